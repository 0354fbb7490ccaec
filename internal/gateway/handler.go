package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// Handler is the gateway's smpp.Handler.
type Handler struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	dests   *hlr.Resolver

	jobs    *jobQueue // per account, served in turn
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	// jobShare bounds, per account, the requests queued for a worker or
	// on one (the queue's 4 × opts.Workers and the workers): one account
	// cannot fill the queue and leave every other account's submits
	// ESME_RTHROTTLED.
	jobShare *fairShare
	// multiShare bounds the submit_multi being decided (opts.Workers),
	// shared out per account as jobShare is; multis waits for them at
	// Close. A submit_multi is decided on a goroutine of its own, not on
	// a worker: it waits for up to 254 lookups, and a client sending many
	// would otherwise hold every worker and stall every other account's
	// submits.
	multiShare *fairShare
	// queryPlaces bounds the query_sm and cancel_sm asking the receipt
	// queue at once (opts.QueueQueries; nil: no bound). They wait for one
	// on their worker: an account flooding them holds its share of the
	// workers' queue (jobShare), not every Redis connection.
	queryPlaces chan struct{}
	multis      sync.WaitGroup
	// accepting counts submits whose receipt is being stored: their
	// answer comes from the store's completion, after the worker left.
	accepting inflight
	storeNow  NowScheduler // opts.Receipts, when it implements it
	once      sync.Once
}

type job struct {
	req   *smpp.Request
	start time.Time
}

// queuedPerWorker sizes the workers' queue: 4 × opts.Workers requests may
// wait for a worker (README, limits).
const queuedPerWorker = 4

// New builds a handler and starts its workers; Close stops them.
func New(opts Options) (*Handler, error) {
	if (opts.Lookuper == nil && opts.Resolver == nil) || opts.Receipts == nil || opts.IDs == nil {
		return nil, errors.New("gateway: Lookuper (or Resolver), Receipts and IDs are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = 256
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = 5 * time.Second
	}
	if opts.InvalidNumberErr == "" {
		opts.InvalidNumberErr = "003"
	}
	if opts.OtherErr == "" {
		opts.OtherErr = "000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(opts.Registerer),
		// The channel holds every place of jobShare, the one bound: a
		// request the share admits always finds room, even when the
		// workers have not yet taken the jobs before it.
		jobs: newJobQueue(opts.Workers * (queuedPerWorker + 1)),

		jobShare:   newFairShare(opts.Workers*(queuedPerWorker+1), opts.Now),
		multiShare: newFairShare(opts.Workers, opts.Now),
	}
	if opts.QueueQueries > 0 {
		h.queryPlaces = make(chan struct{}, opts.QueueQueries)
	}
	h.storeNow, _ = opts.Receipts.(NowScheduler)
	h.dests = opts.Resolver
	if h.dests == nil {
		h.dests = hlr.NewResolver(opts.Lookuper, hlr.ResolverOptions{
			ErrCodes: hlr.ErrCodes{InvalidNumber: opts.InvalidNumberErr, Other: opts.OtherErr},
		})
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.workers.Add(opts.Workers)
	for range opts.Workers {
		go h.work()
	}
	return h, nil
}

// Close stops the workers after the queued requests are answered, or at
// once when ctx ends (the rest are answered ESME_RSYSERR).
func (h *Handler) Close(ctx context.Context) {
	h.once.Do(h.jobs.close)
	done := make(chan struct{})
	go func() { h.workers.Wait(); h.multis.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		h.cancel()
		<-done
	}
	h.cancel()
	// Answers still waiting for their receipt's commit: bounded by the
	// queue's commit timeout.
	h.accepting.closeAndWait()
}

// ServeSMPP implements smpp.Handler.
func (h *Handler) ServeSMPP(r *smpp.Request) {
	start := r.Received // when the server read it: no second clock read
	if start.IsZero() {
		start = h.opts.Now()
	}
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.LogAttrs(context.Background(), slog.LevelDebug, "submit.received",
			slog.String("command", r.PDU.Command.String()), slog.Uint64("sequence", uint64(r.PDU.Sequence)),
			slog.String("system_id", r.Session.SystemID()), slog.Uint64("session", r.Session.ID()))
	}
	switch b := r.PDU.Body.(type) {
	case *pdu.SubmitSM:
		if h.overPendingCap(r) || h.tryInline(r, &b.SM, start) {
			return
		}
	case *pdu.SubmitMulti:
		if !h.overPendingCap(r) {
			h.startMulti(r, start)
		}
		return
	case *pdu.DataSM:
		if d, bad := dataSMAddrsTooLong(b); bad {
			r.Respond(d.status, nil)
			h.observe(r, d, "", b.Source.Addr, b.Dest.Addr, messageLength("", b.TLVs), start)
			return
		}
		if h.overPendingCap(r) {
			return
		}
	case *pdu.ReplaceSM:
		r.Respond(pdu.StatusReplaceFail, nil)
		return
	}
	h.enqueue(r, start)
}

// enqueue hands a request to the workers. When every worker is busy and
// the queue is full (a slow HLR), or the account holds its share of them,
// it is answered ESME_RTHROTTLED at once rather than stall the session's
// reader, which must keep reading deliver_sm_resp and enquire_link.
func (h *Handler) enqueue(r *smpp.Request, start time.Time) {
	account := r.Session.SystemID()
	if h.jobShare.take(account) {
		if h.jobs.push(account, job{req: r, start: start}) {
			h.metrics.activeTasks.Inc()
			return
		}
		// Not reached while the queue holds every place of the share;
		// kept so the reader can never block.
		h.jobShare.give(account)
	}
	r.Respond(pdu.StatusThrottled, nil)
	h.metrics.throttled.Inc()
}

// startMulti decides a submit_multi on a goroutine of its own while the
// account has its share of the opts.Workers multi places; without one it
// is answered ESME_RTHROTTLED at once, as a submit is when the workers'
// queue is full.
func (h *Handler) startMulti(r *smpp.Request, start time.Time) {
	account := r.Session.SystemID()
	if !h.multiShare.take(account) {
		r.Respond(pdu.StatusThrottled, nil)
		h.metrics.throttled.Inc()
		return
	}
	h.metrics.activeTasks.Inc()
	h.multis.Add(1)
	go func() {
		defer func() {
			h.multiShare.give(account)
			h.multis.Done()
		}()
		h.serveJob(job{req: r, start: start})
	}()
}

func (h *Handler) work() {
	defer h.workers.Done()
	for {
		j, ok := h.jobs.pop()
		if !ok {
			return
		}
		h.serveJob(j)
		h.jobShare.give(j.req.Session.SystemID())
	}
}

func (h *Handler) serveJob(j job) {
	defer h.metrics.activeTasks.Dec()
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("gateway.panic", "panic", v)
			j.req.Respond(pdu.StatusSysErr, nil)
		}
	}()
	if b, ok := j.req.PDU.Body.(*pdu.SubmitMulti); ok {
		h.submitMulti(j.req, b, j.start) // a deadline per destination
		return
	}
	switch b := j.req.PDU.Body.(type) {
	case *pdu.SubmitSM:
		ctx, cancel := h.lookupContext(j.start)
		defer cancel()
		h.submit(ctx, j.req, &b.SM, j.start)
	case *pdu.DataSM:
		ctx, cancel := h.lookupContext(j.start)
		defer cancel()
		h.dataSM(ctx, j.req, b, j.start)
	default:
		ctx, cancel := context.WithTimeout(h.ctx, h.opts.LookupTimeout)
		defer cancel()
		h.serveOther(ctx, j.req)
	}
}

// lookupContext bounds the decision of a message read at start by what is
// left of LookupTimeout after its wait in the workers' queue. That wait is
// a wait for an HLR slot as the chain's own is: a submit is answered within
// HLR_SLOT_WAIT_SECONDS + HLR_TIMEOUT_SECONDS of its arrival however long
// the queue, and one that waited all of it is decided by
// HLR_TIMEOUT_POLICY without a lookup (lookupDest).
func (h *Handler) lookupContext(start time.Time) (context.Context, context.CancelFunc) {
	waited := min(max(h.opts.Now().Sub(start), 0), h.opts.LookupTimeout)
	return context.WithTimeout(h.ctx, h.opts.LookupTimeout-waited)
}

// serveOther serves the requests a worker takes that are not messages.
// query_sm and cancel_sm ask the receipt queue (on a worker, not the
// reader: it may be Redis), each holding a query place meanwhile.
func (h *Handler) serveOther(ctx context.Context, r *smpp.Request) {
	switch r.PDU.Body.(type) {
	case *pdu.QuerySM, *pdu.CancelSM:
	default:
		r.Respond(pdu.StatusSysErr, nil)
		return
	}
	if !h.takeQueryPlace(ctx) {
		r.Respond(pdu.StatusThrottled, nil)
		h.metrics.queriesThrottled.Inc()
		return
	}
	defer h.giveQueryPlace()
	switch b := r.PDU.Body.(type) {
	case *pdu.QuerySM:
		h.query(ctx, r, b)
	case *pdu.CancelSM:
		h.cancelSM(ctx, r, b)
	}
}

// takeQueryPlace waits, within ctx, for one of the receipt queue's query
// places; false when ctx ended first.
func (h *Handler) takeQueryPlace(ctx context.Context) bool {
	if h.queryPlaces == nil {
		return true
	}
	select {
	case h.queryPlaces <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// giveQueryPlace gives back a place takeQueryPlace took.
func (h *Handler) giveQueryPlace() {
	if h.queryPlaces != nil {
		<-h.queryPlaces
	}
}

// maxReceiptAddr is the longest address a receipt can carry: it is a
// deliver_sm, whose source_addr and destination_addr hold 21 octets with
// the NUL (SMPP v3.4 §4.6.1).
const maxReceiptAddr = 20

// dataSMAddrsTooLong refuses a data_sm whose addresses (up to 64 octets
// in data_sm) its receipt could not carry; the destination decides first,
// as for the other checks of a message.
func dataSMAddrsTooLong(b *pdu.DataSM) (decision, bool) {
	switch {
	case len(b.Dest.Addr) > maxReceiptAddr:
		return decision{status: pdu.StatusInvDstAdr, detail: "destination_addr longer than a receipt's 20 octets"}, true
	case len(b.Source.Addr) > maxReceiptAddr:
		return decision{status: pdu.StatusInvSrcAdr, detail: "source_addr longer than a receipt's 20 octets"}, true
	}
	return decision{}, false
}
