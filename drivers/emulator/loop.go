package emulator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A Block volume's data is a file; a kubelet hands containers device nodes only ("not a device
// node" otherwise), so NodePublish attaches the file to a loop device (read-only when asked, as
// the kernel then refuses writes) and bind-mounts the device node at the target.

// loopMajor is the loop driver's block major number.
const loopMajor = 7

// attachLoop attaches file to a free loop device and returns the device's path.
func attachLoop(file string, readOnly bool) (string, error) {
	flags := os.O_RDWR
	if readOnly {
		flags = os.O_RDONLY
	}
	backing, err := os.OpenFile(file, flags, 0)
	if err != nil {
		return "", err
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("loop control: %w", err)
	}
	defer ctl.Close()
	// Another process may take the device between GET_FREE and SET_FD: ask again.
	for range 10 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("loop control: get free device: %w", err)
		}
		dev, err := loopNode(n)
		if err != nil {
			return "", err
		}
		loop, err := os.OpenFile(dev, flags, 0)
		if err != nil {
			return "", err
		}
		err = unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_FD, int(backing.Fd()))
		if err == nil {
			info := unix.LoopInfo64{}
			copy(info.File_name[:], file)
			if readOnly {
				info.Flags = unix.LO_FLAGS_READ_ONLY
			}
			err = unix.IoctlLoopSetStatus64(int(loop.Fd()), &info)
			if err != nil {
				_ = unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0)
			}
		}
		loop.Close()
		if errors.Is(err, unix.EBUSY) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("attach %s to %s: %w", file, dev, err)
		}
		return dev, nil
	}
	return "", errors.New("no free loop device after 10 tries")
}

// loopNode is /dev/loopN, made when missing: a container's /dev holds only the devices that
// existed when it started, while the kernel adds loop devices on demand.
func loopNode(n int) (string, error) {
	dev := fmt.Sprintf("/dev/loop%d", n)
	if _, err := os.Stat(dev); err == nil {
		return dev, nil
	}
	if err := unix.Mknod(dev, unix.S_IFBLK|0o600, int(unix.Mkdev(loopMajor, uint32(n)))); err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("make %s: %w", dev, err)
	}
	return dev, nil
}

// detachLoop releases the loop device published at target, if target is one.
func detachLoop(target string) error {
	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != loopMajor {
		return nil
	}
	dev := filepath.Join("/dev", fmt.Sprintf("loop%d", unix.Minor(st.Rdev)))
	loop, err := os.Open(dev)
	if err != nil {
		return err
	}
	defer loop.Close()
	if err := unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detach %s: %w", dev, err)
	}
	return nil
}
