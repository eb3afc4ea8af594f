package core

import "strconv"

// ReplyType is the RESP shape of a qless script reply, as Redis converts the
// Lua value the script returned (spec 1.2).
type ReplyType uint8

const (
	// ReplyNil is a nil bulk string (Lua false or nothing).
	ReplyNil ReplyType = iota
	// ReplyString is a bulk string: every JSON reply, jids, status words.
	ReplyString
	// ReplyInt is an integer reply (Lua numbers, truncated toward zero).
	ReplyInt
	// ReplyArray is an array of bulk strings (jobs, cancel).
	ReplyArray
)

// Reply is the reply of one qless command. The zero value is a nil reply.
// Values are immutable once built and safe to share between goroutines.
type Reply struct {
	Type  ReplyType
	Str   string
	Int   int64
	Array []string
}

// NilReply, StringReply, IntReply and ArrayReply build replies.
func NilReply() Reply             { return Reply{} }
func StringReply(s string) Reply  { return Reply{Type: ReplyString, Str: s} }
func IntReply(n int64) Reply      { return Reply{Type: ReplyInt, Int: n} }
func ArrayReply(a []string) Reply { return Reply{Type: ReplyArray, Array: a} }

// String renders the reply for logs and test failures.
func (r Reply) String() string {
	switch r.Type {
	case ReplyString:
		return strconv.Quote(r.Str)
	case ReplyInt:
		return "(integer) " + strconv.FormatInt(r.Int, 10)
	case ReplyArray:
		s := "["
		for i, v := range r.Array {
			if i > 0 {
				s += " "
			}
			s += strconv.Quote(v)
		}
		return s + "]"
	default:
		return "(nil)"
	}
}
