// demux.go — reads a framed log stream (Docker's multiplexed format:
// an 8-byte header {stream, 0, 0, 0, size as big-endian uint32}, then
// size bytes; stream 1 is stdout, 2 stderr) into two writers.
package dms

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Demux copies a framed stream to stdout and stderr until EOF. A stream
// that ends inside a frame is an error (io.ErrUnexpectedEOF).
func Demux(r io.Reader, stdout, stderr io.Writer) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		var w io.Writer
		switch hdr[0] {
		case 1:
			w = stdout
		case 2:
			w = stderr
		default:
			return fmt.Errorf("dms: log frame with stream %d", hdr[0])
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		if w == nil {
			w = io.Discard
		}
		if _, err := io.CopyN(w, r, n); err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}
