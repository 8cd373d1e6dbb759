package app

import (
	"testing"
	"time"
)

func TestPGTypesScratch(t *testing.T) {
	e := newPGEnv(t)
	e.exec("CREATE TABLE nn (id INT PRIMARY KEY, a numeric(10,2) NOT NULL)")
	s := e.startStreamReady(e.config(""))
	e.exec("INSERT INTO nn VALUES (2, 'NaN')")
	select {
	case err := <-s.done:
		s.stopped, s.err = true, err
		t.Logf("stream ended: %v", err)
	case <-time.After(8 * time.Second):
		t.Logf("still running")
	}
}
