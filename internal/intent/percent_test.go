package intent

import "testing"

func TestParseTargetUnder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"2%", 0.02, ""},
		{"0.5%", 0.005, ""},
		{" 50 % ", 0.5, ""},
		{"1e0%", 0.01, ""},
		{"2", 0, "is not a percentage (it needs the % sign)"},
		{"0.02", 0, "is not a percentage (it needs the % sign)"},
		{"%", 0, "is not a percentage"},
		{"0x2%", 0, "is not a percentage"},
		{"NaN%", 0, "is not a percentage"},
		{"Inf%", 0, "is not a percentage"},
		{"0%", 0, "is out of range"},
		{"-1%", 0, "is out of range"},
		{"50.1%", 0, "is out of range"},
	} {
		got, err := ParseTargetUnder(tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("ParseTargetUnder(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseTargetUnder(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, f := range []float64{0.02, 0.005, 0.07, 0.5} {
		back, err := ParseTargetUnder(FormatTargetUnder(f))
		if err != nil || back != f {
			t.Errorf("FormatTargetUnder(%v) = %q reads back as %v, %v", f, FormatTargetUnder(f), back, err)
		}
	}
}
