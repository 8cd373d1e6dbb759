package bronze

import (
	"fmt"
	"path"
	"time"
)

// ManifestName is the file name of a run's manifest inside its run directory.
const ManifestName = "_manifest.json"

// SuccessName is the file name of the empty marker written once a table's run is complete.
const SuccessName = "_SUCCESS"

// ProbeDir is the directory (relative to the store prefix) holding CheckWritable probes.
const ProbeDir = "_fluxo_probe"

// RunDir returns the run directory of one table's full load:
// <name>/<schema>/<table>/date=YYYY-MM-DD/run=<runID>. The date is taken in UTC.
func RunDir(name, schema, table string, date time.Time, runID string) string {
	return path.Join(name, schema, table,
		"date="+date.UTC().Format(time.DateOnly), "run="+runID)
}

// PartPath returns the key of one data file of a run:
// <run dir>/part-NNNNN.<ext>, with the part number zero padded to five digits.
func PartPath(name, schema, table string, date time.Time, runID string, part int, ext string) string {
	return path.Join(RunDir(name, schema, table, date, runID), fmt.Sprintf("part-%05d.%s", part, ext))
}

// ManifestPath returns the key of a run's _manifest.json.
func ManifestPath(name, schema, table string, date time.Time, runID string) string {
	return path.Join(RunDir(name, schema, table, date, runID), ManifestName)
}

// SuccessPath returns the key of a run's _SUCCESS marker.
func SuccessPath(name, schema, table string, date time.Time, runID string) string {
	return path.Join(RunDir(name, schema, table, date, runID), SuccessName)
}
