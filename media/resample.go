package media

import (
	"math"
	"slices"
)

// Resampling filter design. The low-pass is a Kaiser-windowed sinc whose
// passband ends at 40 % and stopband starts at 50 % of the lower of the two
// rates, so that nothing above the new Nyquist frequency aliases back
// (for 16 kHz → 8 kHz: flat to 3.2 kHz, ≥ 80 dB down from 4 kHz).
const (
	resampleCutoff      = 0.45 // -6 dB point, fraction of the lower rate
	resampleTransition  = 0.10 // stopband edge minus passband edge, fraction of the lower rate
	resampleAttenuation = 80.0 // stopband attenuation the window is designed for, dB
	resampleMaxPhases   = 256  // sub-sample positions tabulated; more are rounded to the nearest
)

// Resample converts mono samples from rate from to rate to (both in Hz) and
// returns a new slice; in is not modified. Downsampling is preceded by a
// windowed-sinc low-pass at the new Nyquist frequency, so components above
// it are removed instead of aliasing into the output; upsampling uses the
// same filter as an interpolator. The output has ceil(len(in)*to/from)
// samples. Equal rates return a copy; a non-positive rate returns nil.
func Resample(in []int16, from, to int) []int16 {
	if from <= 0 || to <= 0 {
		return nil
	}
	if from == to {
		return slices.Clone(in)
	}
	g := gcd(from, to)
	up, down := to/g, from/g // output sample n sits at input position n*down/up
	outLen := int((int64(len(in))*int64(up) + int64(down) - 1) / int64(down))
	out := make([]int16, outLen)
	if outLen == 0 {
		return out
	}

	lower := float64(min(from, to))
	fc := resampleCutoff * lower / float64(from)                   // cycles per input sample
	dw := 2 * math.Pi * resampleTransition * lower / float64(from) // transition width, rad per input sample
	// Kaiser's design formulas: filter length and window shape for the
	// wanted attenuation and transition width.
	taps := int(math.Ceil((resampleAttenuation - 7.95) / (2.285 * dw)))
	half := taps/2 + 1
	beta := 0.1102 * (resampleAttenuation - 8.7)

	phases := min(up, resampleMaxPhases)
	width := 2 * half
	coef := make([]float64, phases*width)
	i0beta := besselI0(beta)
	for p := range phases {
		frac := float64(p) / float64(phases)
		row := coef[p*width : (p+1)*width]
		sum := 0.0
		for k := range row {
			t := float64(k-half+1) - frac // distance from the output position, input samples
			x := t / float64(half)
			if x <= -1 || x >= 1 {
				continue
			}
			h := 2 * fc * sinc(2*fc*t) * besselI0(beta*math.Sqrt(1-x*x)) / i0beta
			row[k] = h
			sum += h
		}
		for k := range row {
			row[k] /= sum // unity gain at DC for every phase
		}
	}

	for n := range out {
		pos := int64(n) * int64(down)
		i := int(pos / int64(up))
		rem := pos % int64(up)
		p := int((rem*int64(phases)*2 + int64(up)) / (2 * int64(up))) // nearest tabulated phase
		if p == phases {
			i, p = i+1, 0
		}
		row := coef[p*width : (p+1)*width]
		first := i - half + 1
		lo, hi := 0, width
		if first < 0 {
			lo = -first
		}
		if first+hi > len(in) {
			hi = len(in) - first
		}
		acc := 0.0
		for k := lo; k < hi; k++ {
			acc += row[k] * float64(in[first+k])
		}
		out[n] = clip16(acc)
	}
	return out
}

func clip16(v float64) int16 {
	v = math.Round(v)
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series; it converges quickly for the arguments a Kaiser window
// needs (≤ 20).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 500; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-16 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
