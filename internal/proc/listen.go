package proc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// eachProcess calls fn with the PID and /proc folder of every process that still runs (zombies
// left out).
func eachProcess(fn func(pid int, dir string)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil && stateOf(stat) != "Z" {
			fn(pid, dir)
		}
	}
}

// Running reports whether pid is a process that still runs: it exists and is not a zombie nobody
// has reaped yet (which would still answer signal 0).
func Running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && stateOf(stat) != "Z"
}

// statFields are the fields of a /proc/PID/stat after the command name: state, ppid, pgrp, ...
func statFields(stat []byte) []string {
	return strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
}

func stateOf(stat []byte) string {
	if f := statFields(stat); len(f) > 0 {
		return f[0]
	}
	return ""
}

// Cmdline is the process's command line, its arguments separated by spaces ("" once it is gone).
func Cmdline(pid int) string {
	data, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// Mentioning lists the PIDs of running processes whose command line mentions s (a lane's work
// folder: every process it started names it).
func Mentioning(s string) []int {
	var pids []int
	eachProcess(func(pid int, dir string) {
		if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && strings.Contains(string(cmdline), s) {
			pids = append(pids, pid)
		}
	})
	return pids
}

// Group lists the PIDs of the processes in process group pgid (a supervised process and what it
// started, such as Velero's plugins).
func Group(pgid int) []int {
	var pids []int
	eachProcess(func(pid int, dir string) {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if f := statFields(stat); err == nil && len(f) >= 3 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	})
	return pids
}

// Listening lists the TCP addresses (IPv4 and IPv6) that the processes pids listen on, as
// "127.0.0.1:8080" or "[::]:8080".
func Listening(pids []int) []string {
	inodes := map[string]bool{}
	for _, pid := range pids {
		fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
		fds, _ := os.ReadDir(fdDir)
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
			}
		}
	}
	var addrs []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) >= 10 && f[3] == "0A" && inodes[f[9]] { // 0A: LISTEN
				addrs = append(addrs, hexAddr(f[1]))
			}
		}
	}
	return addrs
}

// Accepting says whether something accepts TCP connections on addr ("127.0.0.1:8080") now: it
// connects, where asking whether the port is free would bind it and could take it from the
// program about to listen on it.
func Accepting(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// Loopback says whether a Listening address is on the loopback interface.
func Loopback(addr string) bool {
	return strings.HasPrefix(addr, "127.") || strings.HasPrefix(addr, "[::1]:")
}

// hexAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080".
func hexAddr(s string) string {
	host, port, _ := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if len(host) == 8 {
		b, _ := strconv.ParseUint(host, 16, 32)
		return fmt.Sprintf("%d.%d.%d.%d:%d", b&0xff, b>>8&0xff, b>>16&0xff, b>>24, p)
	}
	if host == "00000000000000000000000000000000" {
		return fmt.Sprintf("[::]:%d", p)
	}
	if host == "00000000000000000000000001000000" {
		return fmt.Sprintf("[::1]:%d", p)
	}
	return fmt.Sprintf("[%s]:%d", host, p)
}
