package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// openInput opens FILE, or stdin for "-" or no argument.
func openInput(args []string) (io.ReadCloser, string, error) {
	if len(args) == 0 || args[0] == "-" {
		return io.NopCloser(os.Stdin), "stdin", nil
	}
	if len(args) > 1 {
		return nil, "", fmt.Errorf("one input file at most, got %d", len(args))
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, "", err
	}
	return f, args[0], nil
}

// eachEvent reads a JSON object, a JSON array of objects, or NDJSON (any
// sequence of JSON values), calling fn with each event's bytes and its
// 1-based position. A value that is not JSON stops the read with an error
// naming its position.
func eachEvent(r io.Reader, fn func(n int, raw json.RawMessage) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(br)
	n := 0
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return err
		}
		for dec.More() {
			n++
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("event #%d: %w", n, err)
			}
			if err := fn(n, raw); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		n++
		if err != nil {
			return fmt.Errorf("event #%d (byte %d): not JSON: %w", n, dec.InputOffset(), err)
		}
		if err := fn(n, raw); err != nil {
			return err
		}
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}
