//go:build linux || darwin || freebsd

package app

import "syscall"

// freeBytes is the room left for an unprivileged writer on the file
// system that holds dir.
func freeBytes(dir string) (int64, bool) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, false
	}
	return int64(fs.Bavail) * int64(fs.Bsize), true
}
