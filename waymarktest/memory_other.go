//go:build unix && !linux

package waymarktest

// memoryDir returns "": only Linux's /dev/shm is used to keep the cluster
// in memory.
func memoryDir() string { return "" }
