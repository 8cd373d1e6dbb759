//go:build race

package boxarena

const raceEnabled = true
