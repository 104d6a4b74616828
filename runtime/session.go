package runtime

import (
	"context"
	"errors"
	"sync"
	"time"
)

// session consumes the node's queue on a new channel until ctx is cancelled
// (a graceful stop: cancel the consumer, finish in-flight work within the
// shutdown timeout, wait for confirms, ack, close) or the channel is lost
// (in-flight work is abandoned; the broker redelivers it).
func (r *nodeRun) session(ctx context.Context, conn Conn) error {
	if r.n.kind == KindGather {
		return r.gatherSession(ctx, conn)
	}
	ch, err := conn.Channel(ctx, r.publishWindow())
	if err != nil {
		return err
	}
	defer ch.Close()
	deliveries, err := openWindow(ctx, ch, r.n.in.Queue, r.prefetch, r.concurrency, r.adaptive, r.m, r.log)
	if err != nil {
		return err
	}
	r.log.Info("consuming", "prefetch", r.prefetch, "window", r.windowMode(), "concurrency", r.concurrency)
	r.e.ready.setConsuming(r, true)
	defer r.e.ready.setConsuming(r, false)
	go deliveries.run(ctx)

	// Handlers and confirm waits outlive a shutdown signal; they stop when
	// the channel is lost or the shutdown timeout passes.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	s := &session{r: r, ch: ch, ctx: hctx, win: deliveries}
	s.acker = newAcker(s)
	if r.n.kind == KindAggregate {
		s.acker.eager, s.acker.single = !aggregateAcksAlone, aggregateAcksAlone
	}
	go s.acker.run()

	var workers sync.WaitGroup
	switch r.n.kind {
	case KindAggregate:
		workers.Go(func() { s.aggregateLoop(deliveryChan(deliveries)) })
	default:
		for range r.concurrency {
			workers.Go(func() {
				for {
					d, ok := deliveries.Next()
					if !ok {
						return
					}
					s.handle(d)
				}
			})
		}
	}
	workersDone := make(chan struct{})
	go func() { workers.Wait(); close(workersDone) }()

	select {
	case <-ctx.Done():
		r.log.Info("stopping: finishing in-flight messages", "timeout", r.e.shutdownTimeout.String())
		if err := deliveries.cancel(); err != nil {
			r.log.Warn("cancel consumer", "error", err.Error())
		}
		timer := time.NewTimer(r.e.shutdownTimeout)
		defer timer.Stop()
		select {
		case <-workersDone:
			s.acker.close()
			select {
			case <-s.acker.done:
				r.log.Info("stopped cleanly")
			case <-timer.C:
				r.log.Warn("shutdown timeout passed waiting for confirms; unacknowledged messages will be redelivered")
			case <-ch.Done():
			}
		case <-timer.C:
			r.log.Warn("shutdown timeout passed with handlers still running; their messages will be redelivered")
		case <-ch.Done():
		}
		hcancel()
		_ = ch.Close()
		<-workersDone
		s.acker.close()
		<-s.acker.done
		return nil
	case <-ch.Done():
		hcancel()
		<-workersDone
		s.acker.close()
		<-s.acker.done
		return errChannelLost
	case <-workersDone:
		// The broker cancelled the consumer (e.g. the queue was deleted).
		s.acker.close()
		<-s.acker.done
		return errors.New("consumer cancelled by the broker")
	}
}

// session is one channel's worth of a node's work.
type session struct {
	r     *nodeRun
	ch    Channel
	ctx   context.Context
	acker *acker
	win   *window   // the consumer and its prefetch window
	agg   *aggState // aggregate nodes only
	// gather is a gather node's state (gather nodes only).
	gather *gather
	// claimNotice, when set, claims the one failure notice a node sends
	// per run when it parks a message of the run (see parkNotices): an
	// aggregate's (aggClaimNotice).
	claimNotice func(runID string) (id string, release func(), ok bool)
}
