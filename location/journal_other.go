//go:build !linux

package location

import "os"

// rawFile appends to a journal file and syncs it; off Linux through os.File.
type rawFile struct {
	f *os.File
}

func newRawFile(f *os.File) (rawFile, error) { return rawFile{f}, nil }

// writeAt writes all of b at offset off.
func (r rawFile) writeAt(b []byte, off int64) error {
	_, err := r.f.WriteAt(b, off)
	return err
}

// sync flushes the file to the disk.
func (r rawFile) sync() error { return r.f.Sync() }
