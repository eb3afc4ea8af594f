package web

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// maxBody bounds the body of an API request (the actions take a few
// form fields).
const maxBody = 64 << 10

// apiFunc serves one API route: it returns the value to encode as the JSON
// reply, or an error that classify maps to a status.
type apiFunc func(r *http.Request) (any, error)

// api wraps an apiFunc: a deadline for the backend calls, JSON out, errors
// mapped to statuses.
func (s *Server) api(fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		v, err := fn(r.WithContext(ctx))
		if err != nil {
			f := classify(err)
			if f.Status >= 500 {
				s.log.Warn("api request failed", "path", r.URL.Path, "status", f.Status, "err", err)
			}
			writeJSON(w, f.Status, f)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(failure{Error: "encode reply: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// pageOf reads ?offset= and ?limit= (defaults 0 and Config.PageSize).
func (s *Server) pageOf(r *http.Request) (pageArgs, error) {
	pg := pageArgs{Limit: s.cfg.PageSize}
	q := r.URL.Query()
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pg, badRequest("offset %q must be an integer >= 0", v)
		}
		pg.Offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxPageSize {
			return pg, badRequest("limit %q must be an integer in [1, %d]", v, s.cfg.MaxPageSize)
		}
		pg.Limit = n
	}
	return pg, nil
}

func (s *Server) apiCluster(r *http.Request) (any, error) {
	return s.backend.Cluster(r.Context())
}

func (s *Server) apiLocate(r *http.Request) (any, error) {
	q := r.URL.Query().Get("queue")
	if q == "" {
		return nil, badRequest("queue is missing")
	}
	shard, err := s.backend.Locate(q)
	if err != nil {
		return nil, err
	}
	return map[string]string{"queue": q, "shard": shard}, nil
}

func (s *Server) apiQueues(r *http.Request) (any, error) {
	rows, err := s.queues(r.Context())
	return nonNil(rows), err
}

func (s *Server) apiQueue(r *http.Request) (any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return nil, err
	}
	states := queueStates
	if st := r.URL.Query().Get("state"); st != "" {
		states = []string{st}
	}
	return s.queuePage(r.Context(), r.PathValue("q"), states, pg)
}

func (s *Server) apiPause(r *http.Request) (any, error) {
	q := r.PathValue("q")
	if _, err := s.call(r.Context(), "pause", q); err != nil {
		return nil, err
	}
	return map[string]any{"queue": q, "paused": true}, nil
}

func (s *Server) apiUnpause(r *http.Request) (any, error) {
	q := r.PathValue("q")
	if _, err := s.call(r.Context(), "unpause", q); err != nil {
		return nil, err
	}
	return map[string]any{"queue": q, "paused": false}, nil
}

func (s *Server) apiJob(r *http.Request) (any, error) {
	return s.job(r.Context(), r.PathValue("jid"))
}

func (s *Server) apiCancel(r *http.Request) (any, error) {
	jids, err := s.callArray(r.Context(), "cancel", r.PathValue("jid"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"canceled": nonNil(jids)}, nil
}

func (s *Server) apiTrack(r *http.Request) (any, error) { return s.track(r, "track") }

func (s *Server) apiUntrack(r *http.Request) (any, error) { return s.track(r, "untrack") }

// track runs `track track|untrack jid`, whose reply is the JSON text 1 or
// 0 (whether the tracked set changed).
func (s *Server) track(r *http.Request, action string) (any, error) {
	jid := r.PathValue("jid")
	var changed int
	if _, err := s.callJSON(r.Context(), &changed, "track", action, jid); err != nil {
		return nil, err
	}
	return map[string]any{"jid": jid, "tracked": action == "track", "changed": changed == 1}, nil
}

func (s *Server) apiPriority(r *http.Request) (any, error) {
	jid := r.PathValue("jid")
	p, err := priorityArg(r)
	if err != nil {
		return nil, err
	}
	rep, err := s.call(r.Context(), "priority", jid, p)
	if err != nil {
		return nil, err
	}
	n, err := intReply("priority", rep)
	if err != nil {
		return nil, err
	}
	return map[string]any{"jid": jid, "priority": n}, nil
}

// priorityArg reads the priority of a priority request: a JSON body
// {"priority": n}, else the form or query field priority.
func priorityArg(r *http.Request) (string, error) {
	var v string
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var body struct {
			Priority json.Number `json:"priority"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return "", badRequest("body: %v", err)
		}
		v = body.Priority.String()
	} else {
		v = strings.TrimSpace(r.FormValue("priority"))
	}
	if v == "" {
		return "", badRequest("priority is missing")
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return "", badRequest("priority %q is not a number", v)
	}
	return v, nil
}

func (s *Server) apiCompleted(r *http.Request) (any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return nil, err
	}
	return s.completed(r.Context(), pg)
}

func (s *Server) apiFailed(r *http.Request) (any, error) {
	return s.failedGroups(r.Context())
}

func (s *Server) apiFailedGroup(r *http.Request) (any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return nil, err
	}
	return s.failedPage(r.Context(), r.PathValue("group"), pg)
}

func (s *Server) apiUnfail(r *http.Request) (any, error) {
	group := r.PathValue("group")
	queue := r.FormValue("queue")
	if queue == "" {
		return nil, badRequest("queue is missing")
	}
	count := strconv.Itoa(s.cfg.PageSize)
	if v := r.FormValue("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxPageSize {
			return nil, badRequest("count %q must be an integer in [1, %d]", v, s.cfg.MaxPageSize)
		}
		count = strconv.Itoa(n)
	}
	rep, err := s.call(r.Context(), "unfail", queue, group, count)
	if err != nil {
		return nil, err
	}
	n, err := intReply("unfail", rep)
	if err != nil {
		return nil, err
	}
	return map[string]any{"group": group, "queue": queue, "unfailed": n}, nil
}

func (s *Server) apiWorkers(r *http.Request) (any, error) {
	return s.workers(r.Context())
}

func (s *Server) apiWorker(r *http.Request) (any, error) {
	return s.workerPage(r.Context(), r.PathValue("name"))
}

func (s *Server) apiTopTags(r *http.Request) (any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return nil, err
	}
	return s.topTags(r.Context(), pg)
}

func (s *Server) apiTag(r *http.Request) (any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return nil, err
	}
	return s.tagPage(r.Context(), r.PathValue("tag"), pg)
}

func (s *Server) apiTracked(r *http.Request) (any, error) {
	return s.tracked(r.Context())
}

func (s *Server) apiConfig(r *http.Request) (any, error) {
	return s.config(r.Context())
}
