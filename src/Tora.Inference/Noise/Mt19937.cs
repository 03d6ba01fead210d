using System.Runtime.Intrinsics;

namespace Tora.Inference.Noise;

/// <summary>
/// The 32-bit Mersenne Twister exactly as PyTorch's <c>at::mt19937</c> (the reference MT19937 with Knuth's
/// seeding of the 624-word state from a 32-bit seed): the engine behind <c>torch.Generator().manual_seed(s)</c>
/// on the CPU (docs/model.md §5.5).
/// </summary>
internal sealed class Mt19937
{
    private const int N = 624;
    private const int M = 397;
    private const uint MatrixA = 0x9908b0df;

    private readonly uint[] _state = new uint[N];
    private int _index;

    public Mt19937(ulong seed) => Seed(seed);

    /// <summary>Resets the state as <c>manual_seed</c> does (torch keeps the low 32 bits of the seed).</summary>
    public void Seed(ulong seed)
    {
        _state[0] = (uint)(seed & 0xffffffff);
        for (var i = 1; i < N; i++)
            _state[i] = unchecked(1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i);
        _index = N;
    }

    /// <summary>The next 32-bit output.</summary>
    public uint Next()
    {
        if (_index == N) Twist();
        return Temper(_state[_index++]);
    }

    /// <summary>Fills <paramref name="destination"/> with consecutive outputs (a block copy of <see cref="Next"/>).</summary>
    public void Fill(Span<uint> destination)
    {
        var state = _state;
        var written = 0;
        while (written < destination.Length)
        {
            if (_index == N) Twist();
            var take = Math.Min(N - _index, destination.Length - written);
            var src = state.AsSpan(_index, take);
            var dst = destination.Slice(written, take);
            var i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 8 <= take; i += 8)
                {
                    var y = Vector256.Create<uint>(src.Slice(i, 8));
                    y ^= Vector256.ShiftRightLogical(y, 11);
                    y ^= Vector256.ShiftLeft(y, 7) & Vector256.Create(0x9d2c5680u);
                    y ^= Vector256.ShiftLeft(y, 15) & Vector256.Create(0xefc60000u);
                    y ^= Vector256.ShiftRightLogical(y, 18);
                    y.CopyTo(dst.Slice(i, 8));
                }
            }
            for (; i < take; i++) dst[i] = Temper(src[i]);
            _index += take;
            written += take;
        }
    }

    /// <summary>Advances the stream by <paramref name="count"/> outputs without tempering them.</summary>
    public void Discard(long count)
    {
        while (count > 0)
        {
            if (_index == N) Twist();
            var take = (int)Math.Min(N - _index, count);
            _index += take;
            count -= take;
        }
    }

    private static uint Temper(uint y)
    {
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        return y;
    }

    private void Twist()
    {
        if (Vector256.IsHardwareAccelerated) TwistVectorized(_state);
        else TwistScalar(_state);
        _index = 0;
    }

    /// <summary>The reference recurrence, one word at a time.</summary>
    internal static void TwistScalar(Span<uint> s)
    {
        int i;
        for (i = 0; i < N - M; i++) s[i] = TwistWord(s[i], s[i + 1], s[i + M]);
        for (; i < N - 1; i++) s[i] = TwistWord(s[i], s[i + 1], s[i + M - N]);
        s[N - 1] = TwistWord(s[N - 1], s[0], s[M - 1]);
    }

    /// <summary>
    /// Eight words at a time: every word read is either not yet rewritten (i + 1 .. i + 8, and i + M before
    /// N − M) or was rewritten at least N − M = 227 words earlier, exactly as in the sequential recurrence.
    /// </summary>
    internal static void TwistVectorized(Span<uint> s)
    {
        var i = 0;
        for (; i + 8 <= N - M; i += 8) TwistVector(s, i, i + M);
        for (; i < N - M; i++) s[i] = TwistWord(s[i], s[i + 1], s[i + M]);
        for (; i + 8 <= N - 1; i += 8) TwistVector(s, i, i + M - N);
        for (; i < N - 1; i++) s[i] = TwistWord(s[i], s[i + 1], s[i + M - N]);
        s[N - 1] = TwistWord(s[N - 1], s[0], s[M - 1]);
    }

    private static uint TwistWord(uint current, uint next, uint far)
    {
        var y = (current & 0x80000000) | (next & 0x7fffffff);
        return far ^ (y >> 1) ^ ((y & 1) * MatrixA);
    }

    private static void TwistVector(Span<uint> s, int i, int far)
    {
        var current = Vector256.Create<uint>(s.Slice(i, 8));
        var next = Vector256.Create<uint>(s.Slice(i + 1, 8));
        var farWords = Vector256.Create<uint>(s.Slice(far, 8));
        var y = (current & Vector256.Create(0x80000000u)) | (next & Vector256.Create(0x7fffffffu));
        var odd = Vector256.Equals(y & Vector256<uint>.One, Vector256<uint>.One) & Vector256.Create(MatrixA);
        (farWords ^ Vector256.ShiftRightLogical(y, 1) ^ odd).CopyTo(s.Slice(i, 8));
    }
}
