package httpapi

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// diskSpace returns the bytes free to an unprivileged user and the size of
// the file system holding path.
func diskSpace(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// systemMemory returns the machine's available and total memory from
// /proc/meminfo, or zeros.
func systemMemory() (available, total uint64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "MemAvailable":
			available = kb * 1024
		case "MemTotal":
			total = kb * 1024
		}
	}
	return available, total
}
