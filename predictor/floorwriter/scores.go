package floorwriter

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
)

// scoresVersion is the version of the mlscale.io/baseline-scores format.
const scoresVersion = 1

// savedScores is the value of mlscale.io/baseline-scores: the Selector's
// days, for the demand query (its FNV-1a hash) and lookahead that
// the forecasts were of.
type savedScores struct {
	Version   int    `json:"v"`
	Lookahead string `json:"lookahead"`
	Query     string `json:"query"`
	predictor.SelectorState
}

// queryHash identifies a demand query in savedScores.
func queryHash(query string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(query))
	return strconv.FormatUint(h.Sum64(), 16)
}

// encodeScores returns the mlscale.io/baseline-scores value for sel, or
// "" when it holds no scores.
func encodeScores(sel *predictor.Selector, query string, lookahead time.Duration) (string, error) {
	st := sel.State()
	if len(st.Days) == 0 {
		return "", nil
	}
	b, err := json.Marshal(savedScores{Version: scoresVersion, Lookahead: lookahead.String(), Query: queryHash(query), SelectorState: st})
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", intent.KeyBaselineScores, err)
	}
	return string(b), nil
}

// restoreScores restores sel from a mlscale.io/baseline-scores value. One
// saved for another demand query or lookahead is not restored (and
// reported by ok false, err nil); one that does not parse is an error.
func restoreScores(sel *predictor.Selector, raw, query string, lookahead time.Duration) (ok bool, err error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var s savedScores
	if err := dec.Decode(&s); err != nil {
		return false, fmt.Errorf("%s: not the predictor's JSON: %w", intent.KeyBaselineScores, err)
	}
	if s.Version != scoresVersion {
		return false, fmt.Errorf("%s: v: %d, want %d", intent.KeyBaselineScores, s.Version, scoresVersion)
	}
	if s.Query != queryHash(query) || s.Lookahead != lookahead.String() {
		return false, nil
	}
	if err := sel.Restore(s.SelectorState); err != nil {
		return false, fmt.Errorf("%s: %w", intent.KeyBaselineScores, err)
	}
	return true, nil
}
