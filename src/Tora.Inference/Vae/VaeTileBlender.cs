namespace Tora.Inference.Vae;

/// <summary>
/// Runs the tiles of a <see cref="VaeTilePlan"/> and assembles them as diffusers' <c>tiled_decode</c> and
/// <c>tiled_encode</c> do: row by row, each tile's first rows blended with the (already blended) tile above
/// (<c>blend_v</c>), then its first columns with the (already blended) tile to its left (<c>blend_h</c>), then
/// the first <c>limit</c> rows and columns kept. Weights as torch computes <c>a · (1 − y / e) + b · (y / e)</c>
/// on float32 tensors: the Python float64 factors rounded to float32, two float32 products, one float32 sum.
/// Only the previous row of tiles is held (diffusers holds every tile; the result is the same).
/// </summary>
internal static class VaeTileBlender
{
    /// <summary>A tile's output: <paramref name="Planes"/> planes of <paramref name="Height"/> × <paramref name="Width"/>.</summary>
    internal sealed record Tile(float[] Data, int Planes, int Height, int Width);

    /// <summary>
    /// Assembles [planes, OutputHeight, OutputWidth] from the tiles <paramref name="run"/> gives for
    /// (tile row span, tile column span), each [planes, row output, column output].
    /// </summary>
    public static float[] Assemble(VaeTilePlan plan, int planes, Func<VaeTileSpan, VaeTileSpan, float[]> run)
    {
        int height = plan.OutputHeight, width = plan.OutputWidth;
        var output = new float[(long)planes * height * width];
        Tile[]? above = null;
        int top = 0;
        foreach (var rowSpan in plan.Rows.Tiles)
        {
            var row = new Tile[plan.Columns.Tiles.Count];
            int left = 0;
            for (int j = 0; j < row.Length; j++)
            {
                var colSpan = plan.Columns.Tiles[j];
                var tile = new Tile(run(rowSpan, colSpan), planes, rowSpan.OutputLength, colSpan.OutputLength);
                if (tile.Data.Length != (long)planes * tile.Height * tile.Width)
                    throw new InvalidDataException($"a VAE tile gave {tile.Data.Length} values, expected {planes} x {tile.Height} x {tile.Width}");
                if (above is not null) BlendVertical(above[j], tile, plan.Rows.Blend);
                if (j > 0) BlendHorizontal(row[j - 1], tile, plan.Columns.Blend);
                row[j] = tile;
                int keepRows = Math.Min(plan.Rows.Limit, tile.Height), keepCols = Math.Min(plan.Columns.Limit, tile.Width);
                for (int p = 0; p < planes; p++)
                    for (int y = 0; y < keepRows; y++)
                        tile.Data.AsSpan((p * tile.Height + y) * tile.Width, keepCols)
                            .CopyTo(output.AsSpan(checked((int)(((long)p * height + top + y) * width + left)), keepCols));
                left += keepCols;
            }
            top += Math.Min(plan.Rows.Limit, rowSpan.OutputLength);
            above = row;
        }
        return output;
    }

    /// <summary><c>blend_v(a, b, extent)</c>: b's first rows from a's last ones, in place.</summary>
    internal static void BlendVertical(Tile a, Tile b, int extent)
    {
        int e = Math.Min(Math.Min(a.Height, b.Height), extent);
        for (int y = 0; y < e; y++)
        {
            var (wa, wb) = Weights(y, e);
            for (int p = 0; p < b.Planes; p++)
            {
                var src = a.Data.AsSpan((p * a.Height + a.Height - e + y) * a.Width, a.Width);
                var dst = b.Data.AsSpan((p * b.Height + y) * b.Width, b.Width);
                for (int x = 0; x < dst.Length; x++) dst[x] = src[x] * wa + dst[x] * wb;
            }
        }
    }

    /// <summary><c>blend_h(a, b, extent)</c>: b's first columns from a's last ones, in place.</summary>
    internal static void BlendHorizontal(Tile a, Tile b, int extent)
    {
        int e = Math.Min(Math.Min(a.Width, b.Width), extent);
        for (int x = 0; x < e; x++)
        {
            var (wa, wb) = Weights(x, e);
            for (int p = 0; p < b.Planes; p++)
                for (int y = 0; y < b.Height; y++)
                {
                    ref float dst = ref b.Data[(p * b.Height + y) * b.Width + x];
                    dst = a.Data[(p * a.Height + y) * a.Width + a.Width - e + x] * wa + dst * wb;
                }
        }
    }

    /// <summary>torch's float32 view of the Python factors <c>1 − i / e</c> and <c>i / e</c>.</summary>
    private static (float A, float B) Weights(int i, int extent)
    {
        double t = (double)i / extent;
        return ((float)(1 - t), (float)t);
    }
}
