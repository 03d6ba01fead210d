namespace Tora.Inference.Noise;

/// <summary>
/// The 32-bit Mersenne Twister exactly as PyTorch's <c>at::mt19937</c> (the reference MT19937 with Knuth's
/// seeding of the 624-word state from a 32-bit seed): the engine behind <c>torch.Generator().manual_seed(s)</c>
/// on the CPU (tora-reference §5.5).
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
            for (var i = 0; i < take; i++) dst[i] = Temper(src[i]);
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
        var s = _state;
        int i;
        for (i = 0; i < N - M; i++)
        {
            var y = (s[i] & 0x80000000) | (s[i + 1] & 0x7fffffff);
            s[i] = s[i + M] ^ (y >> 1) ^ ((y & 1) * MatrixA);
        }
        for (; i < N - 1; i++)
        {
            var y = (s[i] & 0x80000000) | (s[i + 1] & 0x7fffffff);
            s[i] = s[i + M - N] ^ (y >> 1) ^ ((y & 1) * MatrixA);
        }
        var last = (s[N - 1] & 0x80000000) | (s[0] & 0x7fffffff);
        s[N - 1] = s[M - 1] ^ (last >> 1) ^ ((last & 1) * MatrixA);
        _index = 0;
    }
}
