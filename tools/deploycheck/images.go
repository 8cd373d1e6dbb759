package main

import (
	"fmt"

	"github.com/distribution/reference"
)

// checkPinned reports whether image names an exact version: a digest, or a
// tag other than "latest". Kubernetes, compose and Dockerfile images all go
// through it.
func checkPinned(image string) error {
	if image == "" {
		return fmt.Errorf("no image")
	}
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("image %q: %w", image, err)
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil
	}
	t, ok := ref.(reference.Tagged)
	if !ok {
		return fmt.Errorf("image %q has no tag: pin an exact version (name:1.2.3 or name@sha256:...)", image)
	}
	if t.Tag() == "latest" {
		return fmt.Errorf("image %q uses the moving tag latest: pin an exact version", image)
	}
	return nil
}

// imageRepository returns the image's repository path without registry,
// tag or digest ("fluxo-cdc/fluxo" for ghcr.io/fluxo-cdc/fluxo:0.1.0), or ""
// when image does not parse.
func imageRepository(image string) string {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	return reference.Path(ref)
}
