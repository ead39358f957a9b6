package craft

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
)

// Trace levels of the C library, mapped to slog's.
func slogLevel(l C.int) slog.Level {
	switch l {
	case C.CRAFT_TRACE_ERROR:
		return slog.LevelError
	case C.CRAFT_TRACE_WARN:
		return slog.LevelWarn
	case C.CRAFT_TRACE_INFO:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// traceLevel is the most verbose C trace level the logger has enabled, 0
// for none.
func traceLevel(l *slog.Logger) int {
	if l == nil {
		return 0
	}
	ctx := context.Background()
	for _, lv := range []C.int{C.CRAFT_TRACE_DEBUG, C.CRAFT_TRACE_INFO, C.CRAFT_TRACE_WARN, C.CRAFT_TRACE_ERROR} {
		if l.Enabled(ctx, slogLevel(lv)) {
			return int(lv)
		}
	}
	return 0
}

// cTraceLevel is the most verbose C trace level at or above slog level l.
func cTraceLevel(l slog.Level) int {
	for _, lv := range []C.int{C.CRAFT_TRACE_DEBUG, C.CRAFT_TRACE_INFO, C.CRAFT_TRACE_WARN} {
		if slogLevel(lv) >= l {
			return int(lv)
		}
	}
	return int(C.CRAFT_TRACE_ERROR)
}

// TraceEvents lists the stable trace event names with their targets
// ("leader.elected" -> "craft.engine"), in id order.
func TraceEvents() []TraceEvent {
	var evs []TraceEvent
	for id := C.int(1); ; id++ {
		name := C.craft_trace_name(id)
		if name == nil {
			return evs
		}
		evs = append(evs, TraceEvent{ID: int(id), Name: C.GoString(name), Target: C.GoString(C.craft_trace_target(id))})
	}
}

// TraceEvent names one kind of trace event.
type TraceEvent struct {
	ID     int
	Name   string // the slog message, e.g. "leader.elected"
	Target string // the "target" attribute: "craft.engine" or "craft.node"
}

//export goCraftTrace
func goCraftTrace(h C.uintptr_t, ev *C.craft_trace_event) {
	var logger *slog.Logger
	switch v := cgo.Handle(h).Value().(type) {
	case *Node:
		logger = v.logger
	case *slog.Logger: // a file storage's or a TCP transport's
		logger = v
	}
	if logger == nil {
		return
	}
	nf := int(C.craft_trace_event_field_count(ev))
	attrs := make([]slog.Attr, 0, nf+1)
	attrs = append(attrs, slog.String("target", C.GoString(C.craft_trace_event_target(ev))))
	for k := 0; k < nf; k++ {
		var key, str *C.char
		var typ C.int
		var u C.uint64_t
		var i C.int64_t
		if C.craft_trace_event_field(ev, C.size_t(k), &key, &typ, &u, &i, &str) != 0 {
			continue
		}
		name := C.GoString(key)
		switch typ {
		case C.CRAFT_FIELD_U64:
			attrs = append(attrs, slog.Uint64(name, uint64(u)))
		case C.CRAFT_FIELD_I64:
			attrs = append(attrs, slog.Int64(name, int64(i)))
		case C.CRAFT_FIELD_STR:
			attrs = append(attrs, slog.String(name, C.GoString(str)))
		}
	}
	logger.LogAttrs(context.Background(), slogLevel(C.craft_trace_event_level(ev)),
		C.GoString(C.craft_trace_event_name(ev)), attrs...)
}

// traceCallbackError logs the error of an FSM callback that has no caller
// waiting for it (Snapshot, Restore).
func (n *Node) traceCallbackError(callback string, err error) {
	if n.logger != nil {
		n.logger.LogAttrs(context.Background(), slog.LevelError, "callback.failed",
			slog.String("target", "craft.go"), slog.Uint64("node_id", n.id),
			slog.String("callback", callback), slog.Any("error", err))
	}
}
