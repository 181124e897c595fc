package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
)

// sendWindow keeps non-urgent notices inside office hours.
type sendWindow struct {
	enabled      bool
	days         []time.Weekday
	start, end   time.Duration // since midnight
	loc          *time.Location
	blocked      []string // 2006-01-02
	highPriority bool
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func newSendWindow(cfg config.SendWindow) (*sendWindow, error) {
	w := &sendWindow{enabled: cfg.Enabled, blocked: cfg.BlockedDates, highPriority: cfg.HighBypass}
	if !cfg.Enabled {
		return w, nil
	}
	var err error
	if w.loc, err = time.LoadLocation(cfg.TimeZone); err != nil {
		return nil, fmt.Errorf("send window time zone: %w", err)
	}
	for _, d := range cfg.Days {
		w.days = append(w.days, weekdays[strings.ToLower(d)])
	}
	start, err := time.Parse("15:04", cfg.Start)
	if err != nil {
		return nil, fmt.Errorf("send window start: %w", err)
	}
	end, err := time.Parse("15:04", cfg.End)
	if err != nil {
		return nil, fmt.Errorf("send window end: %w", err)
	}
	w.start = time.Duration(start.Hour())*time.Hour + time.Duration(start.Minute())*time.Minute
	w.end = time.Duration(end.Hour())*time.Hour + time.Duration(end.Minute())*time.Minute
	return w, nil
}

// next returns t if a notice may go out at t, else the next moment one may.
func (w *sendWindow) next(t time.Time, high bool) time.Time {
	if !w.enabled || (high && w.highPriority) || len(w.days) == 0 || w.end <= w.start {
		return t
	}
	local := t.In(w.loc)
	for range 400 { // a year of days is more than any sane calendar blocks
		midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, w.loc)
		open := slices.Contains(w.days, local.Weekday()) && !slices.Contains(w.blocked, local.Format(time.DateOnly))
		if open {
			from, to := midnight.Add(w.start), midnight.Add(w.end)
			if local.Before(from) {
				return from
			}
			if local.Before(to) {
				return local
			}
		}
		local = midnight.AddDate(0, 0, 1)
	}
	return t
}
