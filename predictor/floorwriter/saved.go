package floorwriter

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
)

// savedVersion is the version of the mlscale.io/predictor-state format.
const savedVersion = 1

// savedState is the value of mlscale.io/predictor-state: what the
// Selector, the Calibrator and the Rolling windows learned from the
// forecasts of the demand query (its FNV-1a hash) and lookahead. A part is
// left out while it has learned nothing.
type savedState struct {
	Version     int                        `json:"v"`
	Lookahead   string                     `json:"lookahead"`
	Query       string                     `json:"query"`
	Selector    *predictor.SelectorState   `json:"selector,omitempty"`
	Calibration *predictor.CalibratorState `json:"calibration,omitempty"`
	Rolling     *RollingState              `json:"rolling,omitempty"`
}

// queryHash identifies a demand query in savedState.
func queryHash(query string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(query))
	return strconv.FormatUint(h.Sum64(), 16)
}

// encodeState returns the mlscale.io/predictor-state value for sel, cal
// (nil: none yet) and rolling, or "" when none has learned from an
// evaluated forecast.
func encodeState(sel *predictor.Selector, cal *predictor.Calibrator, rolling *Rolling, query string, lookahead time.Duration) (string, error) {
	s := savedState{Version: savedVersion, Lookahead: lookahead.String(), Query: queryHash(query)}
	if st := sel.State(); len(st.Days) > 0 {
		s.Selector = &st
	}
	if cal != nil {
		// A calibrator that has evaluated no forecast holds the fit's
		// errors only, which a new process seeds from again.
		if _, n := cal.Achieved(); n > 0 {
			st := cal.State()
			s.Calibration = &st
		}
	}
	if st := rolling.State(); st.Errors != nil || st.Floors != nil {
		st.round()
		s.Rolling = &st
	}
	if s.Selector == nil && s.Calibration == nil && s.Rolling == nil {
		return "", nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", intent.KeyPredictorState, err)
	}
	return string(b), nil
}

// decodeState reads a mlscale.io/predictor-state value. One saved for
// another demand query or lookahead is reported by ok false (err nil);
// one that does not parse is an error that names the field.
func decodeState(raw, query string, lookahead time.Duration) (s savedState, ok bool, err error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, false, fmt.Errorf("%s: not the predictor's JSON: %w", intent.KeyPredictorState, err)
	}
	if s.Version != savedVersion {
		return s, false, fmt.Errorf("%s: v: %d, want %d", intent.KeyPredictorState, s.Version, savedVersion)
	}
	if s.Query != queryHash(query) || s.Lookahead != lookahead.String() {
		return s, false, nil
	}
	return s, true, nil
}

// restoreState restores sel and rolling and makes cal (for target, at
// step) from a mlscale.io/predictor-state value of the same demand query
// and lookahead. A part that is not well formed is not restored, and the
// error names it; the other parts are restored all the same. cal is nil
// where there is no calibration to restore, or it was learned for
// another target.
func restoreState(sel *predictor.Selector, rolling *Rolling, raw, query string, lookahead time.Duration, target float64, step time.Duration) (cal *predictor.Calibrator, ok bool, err error) {
	s, ok, err := decodeState(raw, query, lookahead)
	if err != nil || !ok {
		return nil, false, err
	}
	var errs []error
	if s.Selector != nil {
		if err := sel.Restore(*s.Selector); err != nil {
			errs = append(errs, fmt.Errorf("%s: selector.%w", intent.KeyPredictorState, err))
		}
	}
	if s.Rolling != nil {
		if err := rolling.Restore(*s.Rolling); err != nil {
			errs = append(errs, fmt.Errorf("%s: rolling.%w", intent.KeyPredictorState, err))
		}
	}
	if c := s.Calibration; c != nil && c.Target == target {
		cal, err = predictor.NewCalibrator(target, step, lookahead)
		if err == nil {
			err = cal.Restore(*c)
		}
		if err != nil {
			cal = nil
			errs = append(errs, fmt.Errorf("%s: calibration.%w", intent.KeyPredictorState, err))
		}
	}
	return cal, true, errors.Join(errs...)
}

// fromBaselineScores returns the mlscale.io/predictor-state value that a
// value of the retired mlscale.io/baseline-scores (intent.RetiredKeys)
// stands for: its scores as the selector part, so that the first build
// without it keeps the blend. "" where it does not parse: it is dropped.
func fromBaselineScores(raw string) string {
	if raw == "" {
		return ""
	}
	var old struct {
		Version   int    `json:"v"`
		Lookahead string `json:"lookahead"`
		Query     string `json:"query"`
		predictor.SelectorState
	}
	if err := json.Unmarshal([]byte(raw), &old); err != nil || old.Version != 1 {
		return ""
	}
	b, err := json.Marshal(savedState{Version: savedVersion, Lookahead: old.Lookahead, Query: old.Query, Selector: &old.SelectorState})
	if err != nil {
		return ""
	}
	return string(b)
}
