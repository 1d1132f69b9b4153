package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is set at link time:
//
//	go build -ldflags "-X main.buildVersion=v1.2.3" ./cmd/ramp
var buildVersion string

// version returns the version of this binary: the link-time version, the
// module version when installed with go install, or "devel".
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of ramp",
		Long:  `Print the version of this ramp binary and the Go version it was built with.`,
		Example: `  ramp version
  ramp version -o json`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := struct {
				Version string `json:"version"`
				Go      string `json:"go"`
				OS      string `json:"os"`
				Arch    string `json:"arch"`
			}{version(), runtime.Version(), runtime.GOOS, runtime.GOARCH}
			return a.render(v, func(w io.Writer) {
				fmt.Fprintf(w, "ramp %s (%s, %s/%s)\n", v.Version, v.Go, v.OS, v.Arch)
			})
		},
	}
}
