package proc

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

func TestListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	all, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	got := Listening([]int{os.Getpid()})
	want := l.Addr().String()
	if !slices.Contains(got, want) {
		t.Errorf("Listening = %v, want it to hold %s", got, want)
	}
	var open []string
	for _, a := range got {
		if !Loopback(a) {
			open = append(open, a)
		}
	}
	if len(open) != 1 {
		t.Errorf("non-loopback listeners %v, want exactly the :0 one", open)
	}
	if !slices.Contains(Group(syscall.Getpgrp()), os.Getpid()) {
		t.Error("Group does not find this process in its own group")
	}
}

// Accepting: a port listened on accepts; once closed, it does not.
func TestAccepting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if !Accepting(addr) {
		t.Errorf("Accepting(%s) false while it is listened on", addr)
	}
	l.Close()
	if Accepting(addr) {
		t.Errorf("Accepting(%s) true once closed", addr)
	}
}

// Running: this process runs; a child that exited and was reaped does not.
func TestRunning(t *testing.T) {
	if !Running(os.Getpid()) {
		t.Error("this process is not running")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if Running(cmd.Process.Pid) {
		t.Errorf("pid %d of an exited, reaped child still runs", cmd.Process.Pid)
	}
}
