//go:build !linux

package hugeheap

func advise(int) int { return 0 }
