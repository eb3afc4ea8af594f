// Package core holds the qless domain shared by every other package: the
// command table that gives each qless command its routing class, the reply
// and job types, errors, the clock and the math used to merge results of
// several shards. It imports only the standard library.
package core
