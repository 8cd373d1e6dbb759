package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// loadBronze runs `fluxo fullload` of the shop database into the config's
// local bronze directory, prints its summary and the files it wrote, then
// reads the orders back from their Avro files, as a lake job would.
func loadBronze(ctx context.Context, cfg *config.Config, out io.Writer) error {
	var summary bytes.Buffer
	if err := command.Fullload(ctx, cfg, command.FullloadOptions{Summary: &summary}, newLogger()); err != nil {
		return fmt.Errorf("fluxo fullload: %w\n%s", err, summary.String())
	}
	indent(out, summary.String())
	root := strings.TrimPrefix(cfg.Bronze.URL, "file://")
	files, err := bronzeFiles(root)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n    files written under %s (besides fluxo's run journal in _fluxo/):\n", root)
	files = slices.DeleteFunc(files, func(f bronzeFile) bool { return strings.HasPrefix(f.path, "_fluxo") })
	width := 0
	for _, f := range files {
		width = max(width, len(f.path))
	}
	for _, f := range files {
		fmt.Fprintf(out, "      %-*s %6d bytes\n", width, f.path, f.size)
	}
	fmt.Fprintln(out, "\n    shop.orders read back from its Avro files (the schema travels in each file):")
	for _, f := range files {
		if !strings.HasPrefix(f.path, "shop/shop/orders/") || !strings.HasSuffix(f.path, ".avro") {
			continue
		}
		if err := printAvroRows(filepath.Join(root, f.path), out); err != nil {
			return fmt.Errorf("read back %s: %w", f.path, err)
		}
	}
	return nil
}

// bronzeFile is one file of the bronze directory, relative to its root.
type bronzeFile struct {
	path string
	size int64
}

// bronzeFiles lists the files under root, sorted.
func bronzeFiles(root string) ([]bronzeFile, error) {
	var files []bronzeFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, bronzeFile{path: filepath.ToSlash(rel), size: info.Size()})
		return nil
	})
	slices.SortFunc(files, func(a, b bronzeFile) int { return strings.Compare(a.path, b.path) })
	return files, err
}

// printAvroRows prints every row of an Avro object container file as JSON,
// one line each, prefixed with "bronze ".
func printAvroRows(path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec, err := ocf.NewDecoder(f)
	if err != nil {
		return err
	}
	schema, err := hamba.ParseBytesWithCache(dec.Metadata()["avro.schema"], "", &hamba.SchemaCache{})
	if err != nil {
		return err
	}
	for dec.HasNext() {
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			return err
		}
		fmt.Fprintf(out, "      bronze %s\n", render(schema, row))
	}
	return dec.Error()
}
