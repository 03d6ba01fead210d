namespace Tora.Models.Graph;

/// <summary>One dimension of a graph input or output: a fixed size or a symbolic name (e.g. "batch").</summary>
public readonly record struct Dim(long Value, string? Symbol)
{
    /// <summary>A fixed dimension.</summary>
    public static implicit operator Dim(long value) => new(value, null);

    /// <summary>A fixed dimension.</summary>
    public static implicit operator Dim(int value) => new(value, null);

    /// <summary>A symbolic dimension.</summary>
    public static implicit operator Dim(string symbol) => new(-1, symbol);

    /// <summary>Whether the size is fixed.</summary>
    public bool IsFixed => Symbol is null;

    /// <inheritdoc />
    public override string ToString() => Symbol ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
