#!/usr/bin/env bash
# test.sh runs ramp's whole test suite: formatting, vet, staticcheck, every
# unit, contract and end-to-end test with the race detector, and a short
# run of each fuzzer. It installs what the tests need when it is missing.
#
#   ./test.sh            everything
#   FUZZTIME=1m ./test.sh  fuzz longer (default 5s per fuzzer)
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== %s\n' "$*"; }

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
command -v go >/dev/null || { echo "test.sh: Go is not installed (https://go.dev/dl)" >&2; exit 1; }

# Prometheus, for the tests that run a real one (internal/promtest), and its
# promtool, for the tests that check generated rules (promrules, e2e): the
# Debian package. Without it those tests skip, or fail under CI=true.
if { ! command -v prometheus >/dev/null && [ ! -x /usr/bin/prometheus ]; } ||
	{ ! command -v promtool >/dev/null && [ ! -x /usr/bin/promtool ]; }; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		step "install prometheus"
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
	else
		echo "test.sh: Prometheus is not installed and cannot be installed here (needs root and apt-get):" >&2
		echo "  install the Debian package prometheus, or the real-Prometheus tests skip (and fail under CI=true)" >&2
	fi
fi

# Alertmanager, for e2e/alertmanager_test.go: the Debian package. Without it
# that test skips, or fails under CI=true.
if ! command -v alertmanager >/dev/null && [ ! -x /usr/bin/prometheus-alertmanager ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	step "install prometheus-alertmanager"
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager
fi

# PostgreSQL, for the Postgres store's tests: internal/pgtest runs private
# servers (initdb into a temporary directory); tests that restart the server
# need one even when $RAMP_TEST_POSTGRES names a shared server. The Debian
# package; without it those tests skip, or fail under CI=true.
if ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		step "install postgresql"
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
	else
		echo "test.sh: PostgreSQL is not installed and cannot be installed here (needs root and apt-get):" >&2
		echo "  install the Debian package postgresql, or the Postgres tests skip (and fail under CI=true)" >&2
	fi
fi

# Chromium, for the web console's browser tests (e2e/console_test.go): the
# Debian package. Without it those tests skip, or fail under CI=true.
if [ ! -x /usr/bin/chromium ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		step "install chromium"
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
	else
		echo "test.sh: Chromium is not installed and cannot be installed here (needs root and apt-get):" >&2
		echo "  install the Debian package chromium, or the console's browser tests skip (and fail under CI=true)" >&2
	fi
fi

# Node.js and the stock OpenFeature JavaScript SDKs and OFREP providers, for
# e2e/ofrepjs_test.go: Node.js from the Debian packages when it is missing,
# the packages with npm ci at the versions of e2e/testdata/ofrepjs's lock
# file. Without them those tests skip, or fail under CI=true.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		step "install nodejs"
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
	else
		echo "test.sh: Node.js is not installed and cannot be installed here (needs root and apt-get):" >&2
		echo "  install Node.js and npm, or the JavaScript OFREP tests skip (and fail under CI=true)" >&2
	fi
fi
OFREPJS=e2e/testdata/ofrepjs
if command -v npm >/dev/null && { [ ! -f "$OFREPJS/node_modules/.package-lock.json" ] || [ "$OFREPJS/package-lock.json" -nt "$OFREPJS/node_modules/.package-lock.json" ]; }; then
	step "npm ci in $OFREPJS"
	npm ci --prefix "$OFREPJS" --no-audit --no-fund
fi

# Tools the suite runs, installed at pinned versions into ./.tools.
TOOLS="$PWD/.tools"
STATICCHECK_VERSION=v0.8.2
if [ ! -x "$TOOLS/staticcheck-$STATICCHECK_VERSION" ]; then
	step "install staticcheck $STATICCHECK_VERSION"
	GOBIN="$TOOLS/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	mv "$TOOLS/bin/staticcheck" "$TOOLS/staticcheck-$STATICCHECK_VERSION"
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
"$TOOLS/staticcheck-$STATICCHECK_VERSION" ./...

step "build without cgo"
CGO_ENABLED=0 go build -o /dev/null ./cmd/ramp

step "go test -race"
go test -race -count=1 -timeout 20m ./...

step "fuzz (${FUZZTIME:=5s} each)"
# Go 1.26's fuzz coordinator can fail a run at its -fuzztime deadline with
# "context deadline exceeded" and no failing input (go.dev/issue/75804,
# fixed in Go 1.27). Such a run is retried once; a failure that writes an
# input under testdata/fuzz, or any other failure, fails the suite.
inputs() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
fuzz() {
	local corpus="$1/testdata/fuzz/$2" before out
	before=$(inputs "$corpus")
	if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" 2>&1); then
		echo "$out"
		return 0
	fi
	echo "$out"
	if [ "$(inputs "$corpus")" = "$before" ] && grep -q '^    context deadline exceeded$' <<<"$out"; then
		echo "test.sh: $2 stopped at Go's fuzz deadline race (go.dev/issue/75804) with no failing input; running it again"
		go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1"
		return
	fi
	return 1
}
fuzz ./eval FuzzEvaluate
fuzz ./eval FuzzBucket
fuzz . FuzzSemver
fuzz . FuzzValidate
fuzz ./cmd/ramp FuzzParsePercent
fuzz ./cmd/ramp FuzzApplyFile
fuzz ./cmd/ramp FuzzParseAttr
fuzz ./sdk FuzzSSE
fuzz ./sdk FuzzDecode
fuzz ./judge FuzzEvaluate

step "all tests passed"
