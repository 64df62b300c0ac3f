"""Signal processing through the FFT: design a low-pass FIR filter by gradient descent.

The filter's frequency response is the FFT of its taps (`cnp.fft.rfft`, zero-padded to a fine
grid). The loss asks its magnitude to be 1 in the passband and 0 in the stopband — in decibels
of attenuation where it matters, a minimax-like soft maximum of the stopband's power — and is
minimised over the taps with Adam, the gradient flowing back through the FFT by its own rules
(the transpose of an FFT is an FFT). A window-method design of the same length is the start
and the yardstick:

    python examples/fir_design.py
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.optim import Adam


def response(taps: Any, grid: int) -> Any:
    """|H| on `grid // 2 + 1` frequencies from 0 to Nyquist."""
    return cnp.abs(cnp.fft.rfft(taps, n=grid))


def bands(grid: int, passband: float, stopband: float) -> tuple[np.ndarray, np.ndarray]:
    f = np.linspace(0.0, 0.5, grid // 2 + 1)  # cycles per sample
    return f <= passband, f >= stopband


def loss(taps: Any, grid: int, passband: float, stopband: float, sharpness: float = 40.0
         ) -> Any:
    """Squared passband error plus a soft maximum of the stopband's power."""
    h = response(taps, grid)
    pas, stop = bands(grid, passband, stopband)
    ripple = cnp.mean((h[pas] - 1.0) ** 2)
    power = h[stop] ** 2
    leak = cnp.log(cnp.mean(cnp.exp(sharpness * (power - cnp.max(power))))) / sharpness \
        + cnp.max(power)
    return ripple + 10.0 * leak


def window_design(n: int, cutoff: float) -> np.ndarray:
    """The windowed-sinc low-pass (Hamming window): the classic starting point."""
    k = np.arange(n) - (n - 1) / 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * k) * np.hamming(n)
    return taps / taps.sum()


def report(taps: np.ndarray, grid: int, passband: float, stopband: float) -> tuple[float, float]:
    h = np.abs(np.fft.rfft(taps, n=grid))
    pas, stop = bands(grid, passband, stopband)
    ripple_db = 20 * np.log10(np.max(np.abs(h[pas])) / np.min(np.abs(h[pas])))
    attenuation_db = -20 * np.log10(np.max(h[stop]))
    return float(ripple_db), float(attenuation_db)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--taps", type=int, default=31)
    ap.add_argument("--grid", type=int, default=512)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args(argv)
    passband, stopband = 0.1, 0.17
    taps = window_design(args.taps, (passband + stopband) / 2)
    start = report(taps, args.grid, passband, stopband)
    print(f"window design: passband ripple {start[0]:.3f} dB, "
          f"stopband attenuation {start[1]:.1f} dB")
    value_and_grad = cr.value_and_grad(loss)
    params = {"taps": taps.copy()}
    opt = Adam(params, lr=args.lr)
    losses = []
    for step in range(args.steps):
        value, g = value_and_grad(params["taps"], args.grid, passband, stopband)
        losses.append(float(value))
        params = opt.step({"taps": g})
        if step % 100 == 0:
            print(f"  step {step:4d}: loss {losses[-1]:.6f}")
    end = report(params["taps"], args.grid, passband, stopband)
    print(f"designed:      passband ripple {end[0]:.3f} dB, "
          f"stopband attenuation {end[1]:.1f} dB")
    return {"start": start, "end": end, "losses": losses, "taps": params["taps"]}


if __name__ == "__main__":
    main()
