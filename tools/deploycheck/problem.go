package main

import (
	"fmt"
	"strings"
)

// Problem is one finding of a check: the file, the object or service in it,
// and what is wrong.
type Problem struct {
	// File is the path of the checked file, relative to the checked root.
	File string
	// Where names the object inside the file, e.g. "Deployment/fluxo-shop
	// container fluxo" or "service fluxo-shop"; empty for the whole file.
	Where string
	// Msg says what is wrong.
	Msg string
}

// String formats p as "file: where: msg".
func (p Problem) String() string {
	parts := []string{p.File}
	if p.Where != "" {
		parts = append(parts, p.Where)
	}
	return strings.Join(append(parts, p.Msg), ": ")
}

// findings collects the problems of one run.
type findings struct {
	problems []Problem
}

// add records a problem.
func (f *findings) add(file, where, format string, args ...any) {
	f.problems = append(f.problems, Problem{File: file, Where: where, Msg: fmt.Sprintf(format, args...)})
}

// scope is a findings writer bound to one file and object.
type scope struct {
	f     *findings
	file  string
	where string
}

// errorf records a problem in s.
func (s scope) errorf(format string, args ...any) { s.f.add(s.file, s.where, format, args...) }

// in returns a scope for a part of s's object.
func (s scope) in(part string) scope {
	w := part
	if s.where != "" {
		w = s.where + " " + part
	}
	return scope{f: s.f, file: s.file, where: w}
}
