//go:build !race

package boxarena

const raceEnabled = false
