package report

import "sync"

// An xlsxPipe runs the xlsx writer on its own goroutine. The xlsx Timeline
// is the costliest timeline (every cell is escaped and deflated as it is
// written, see xlsxrows.go), so on a machine with two cores or more the
// other timelines, the rules and the workbook proceed side by side instead
// of one after the other. Rows travel in batches through a small buffered channel:
// memory stays bounded (pipeDepth × pipeBatch rows) and the rows reach the
// workbook in the order they were added.
type xlsxPipe struct {
	x     *xlsxWriter
	batch []eventRow
	ch    chan []eventRow
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error // the writer's first error, reported by the next send or by finish
}

const (
	pipeBatch = 512
	pipeDepth = 8
)

func newXLSXPipe(x *xlsxWriter) *xlsxPipe {
	p := &xlsxPipe{x: x, ch: make(chan []eventRow, pipeDepth), batch: make([]eventRow, 0, pipeBatch)}
	p.wg.Add(1)
	go func(ch <-chan []eventRow) {
		defer p.wg.Done()
		for rows := range ch {
			if p.failed() != nil {
				continue // drain, so senders never block
			}
			for i := range rows {
				if err := x.event(&rows[i]); err != nil {
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

func (p *xlsxPipe) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// event queues one row; it returns the writer's error once there is one.
func (p *xlsxPipe) event(r *eventRow) error {
	p.batch = append(p.batch, *r)
	if len(p.batch) == pipeBatch {
		p.ch <- p.batch
		p.batch = make([]eventRow, 0, pipeBatch)
	}
	return p.failed()
}

// finish sends what is left and waits for the writer to write it.
func (p *xlsxPipe) finish() error {
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
