//go:build !linux

package main

func limitAddressSpace() {}
