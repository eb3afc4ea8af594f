// Package web is the HTTP side of a qless-router: a JSON API, a
// server-rendered dashboard of the whole cluster, /healthz and /metrics.
//
// It imports only core. The router is reached through Backend, which
// package web declares and which cmd/qless-router adapts *router.Router to.
// Every qless call goes through Backend.Qless, which already fans out and
// merges across shards, so the pages show the cluster as one qless server
// would.
//
// # JSON API
//
// Every reply is JSON. Empty lists are [] (not qless's {}), a job without a
// failure has "failure": null. Errors are {"error": "..."}: a qless error
// (*core.ScriptError) is 400 with the script's message, a request the
// handler rejects itself is 400, an unknown job 404, shards that did not
// answer 503 with "shards": [names].
//
//	GET  /api/cluster                     this router, live routers, shards with health, ring
//	GET  /api/locate?queue=Q              {"queue", "shard"}
//	GET  /api/queues                      [counts + "shard"] (qless queues)
//	GET  /api/queues/{q}?state=&offset=&limit=
//	                                      counts, today's stats, jobs per state
//	                                      (waiting|running|stalled|scheduled|depends|recurring;
//	                                      waiting is qless peek, which has no offset and, as in
//	                                      every qless dashboard, spawns due recurring jobs)
//	GET  /api/jobs/{jid}                  {"kind":"job","job":{...}} or {"kind":"recurring","recurring":{...}}
//	GET  /api/completed?offset=&limit=    recently completed jobs
//	GET  /api/failed                      failure groups and their sizes
//	GET  /api/failed/{group}?offset=&limit=
//	GET  /api/workers                     workers with job and stalled counts
//	GET  /api/workers/{name}              a worker's jobs and stalled jobs
//	GET  /api/tags/top?offset=&limit=     (so a tag named "top" has no API page)
//	GET  /api/tags/{tag}?offset=&limit=
//	GET  /api/tracked                     tracked jobs and expired jids
//	GET  /api/config                      qless config.get
//	POST /api/jobs/{jid}/cancel
//	POST /api/jobs/{jid}/track
//	POST /api/jobs/{jid}/untrack
//	POST /api/jobs/{jid}/priority         priority from the form, the query or a JSON body {"priority": n}
//	POST /api/queues/{q}/pause
//	POST /api/queues/{q}/unpause
//	POST /api/failed/{group}/unfail?queue=Q&count=N
//
// # Dashboard
//
// HTML pages rendered with html/template from embedded templates: / (the
// cluster: routers, shards, queues), /queues/{q}, /jobs/{jid}, /failed,
// /failed/{group}, /workers, /workers/{name}, /tags, /tags/{tag},
// /tracked, /completed, /config. The few action buttons call the JSON API
// with a small script; nothing is loaded from outside the router.
//
// # Authentication
//
// With Config.Token set, every /api, dashboard and /metrics request needs
// "Authorization: Bearer <token>", ?token=<token> or the qless_token cookie
// (set, HttpOnly and SameSite=Strict, when a request authenticates with
// ?token=, so that the dashboard's links work). /healthz and /static stay
// open.
package web
