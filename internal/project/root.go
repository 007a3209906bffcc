// Package project finds the project's root, for the tools that build or resolve paths in it.
package project

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNoRoot means no directory at or above the start holds a go.mod.
var ErrNoRoot = errors.New("no go.mod at or above the directory")

// Root returns the nearest directory at or above dir that holds go.mod.
func Root(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRoot
		}
		dir = parent
	}
}
