//go:build !unix

package router

import "errors"

// freeBytes is not measured here: the embedded JetStream is then never
// restarted by the router, only reported.
func freeBytes(string) (uint64, error) {
	return 0, errors.New("free space is not measured on this platform")
}
