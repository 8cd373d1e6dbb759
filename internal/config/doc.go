// Package config reads, checks and completes Fluxo's YAML configuration file
// (one file per source database, see SPEC §2).
//
// Parse turns the file into a Config in four steps, each reporting every
// problem it finds with the file name and line, so that one run shows all
// mistakes at once:
//
//  1. the YAML is parsed into a node tree;
//  2. ${VAR} references in scalar values are expanded from the environment on
//     that tree, so a substituted value is never re-read as YAML (a password
//     may contain '#', ':' or quotes);
//  3. the tree is decoded into Config, rejecting unknown keys and values of
//     the wrong type by name and line;
//  4. defaults are filled in and the values are checked.
//
// Checks that depend on the command are separate: ValidateStream for
// `fluxo stream` and ValidateFullload for `fluxo fullload`.
//
// Secrets (the DSN's password, the SASL and Schema Registry passwords) never
// appear in an error, in String, in Redacted or in LogValue.
package config
