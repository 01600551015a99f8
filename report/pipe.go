package report

import "sync"

// A rowPipe runs one timeline writer on its own goroutine. The xlsx
// Timeline is the costliest (every cell is escaped and deflated as it is
// written, see xlsxrows.go) and the HTML rows come next, so on a machine
// with two cores or more the timelines, the rules and the workbook proceed
// side by side instead of one after the other. Rows travel in batches
// through a small buffered channel: memory stays bounded (pipeDepth ×
// pipeBatch rows) and the rows reach the writer in the order they were
// added.
type rowPipe struct {
	batch []eventRow
	ch    chan []eventRow
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error // the writer's first error, reported by the next send or by finish
}

// A rowSink is a timeline writer a rowPipe feeds.
type rowSink interface {
	event(*eventRow) error
}

const (
	pipeBatch = 512
	pipeDepth = 8
)

func newRowPipe(sink rowSink) *rowPipe {
	p := &rowPipe{ch: make(chan []eventRow, pipeDepth), batch: make([]eventRow, 0, pipeBatch)}
	p.wg.Add(1)
	go func(ch <-chan []eventRow) {
		defer p.wg.Done()
		for rows := range ch {
			if p.failed() != nil {
				continue // drain, so senders never block
			}
			for i := range rows {
				if err := sink.event(&rows[i]); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
					break
				}
			}
		}
	}(p.ch)
	return p
}

func (p *rowPipe) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// event queues one row; it returns the writer's error once there is one.
func (p *rowPipe) event(r *eventRow) error {
	p.batch = append(p.batch, *r)
	if len(p.batch) == pipeBatch {
		p.ch <- p.batch
		p.batch = make([]eventRow, 0, pipeBatch)
	}
	return p.failed()
}

// finish sends what is left and waits for the writer to write it.
func (p *rowPipe) finish() error {
	if p.ch == nil {
		return p.failed()
	}
	if len(p.batch) > 0 {
		p.ch <- p.batch
		p.batch = nil
	}
	close(p.ch)
	p.ch = nil
	p.wg.Wait()
	return p.failed()
}
