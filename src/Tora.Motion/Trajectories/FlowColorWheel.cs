namespace Tora.Motion.Trajectories;

/// <summary>
/// torchvision's <c>flow_to_image</c> colouring (docs/model.md §2.3): the Middlebury colour wheel of 55 entries,
/// hue from the flow direction, saturation from its magnitude relative to one global maximum norm, all in
/// float32 and in the same operation order, so the bytes match the original.
/// </summary>
public static class FlowColorWheel
{
    /// <summary>float32 machine epsilon, added to the max norm as torchvision does.</summary>
    public const float Epsilon = 1.1920929e-07f;

    private const int Columns = 55;

    // wheel[k] / 255 in float32, per channel, as torchvision computes col0/col1.
    private static readonly float[] R = new float[Columns];
    private static readonly float[] G = new float[Columns];
    private static readonly float[] B = new float[Columns];

    static FlowColorWheel()
    {
        // Segments RY 15, YG 6, GC 4, CB 11, BM 13, MR 6; ramps floor(255·k/n) (Baker et al.).
        var wheel = new int[Columns, 3];
        var c = 0;
        for (var k = 0; k < 15; k++, c++) { wheel[c, 0] = 255; wheel[c, 1] = 255 * k / 15; }
        for (var k = 0; k < 6; k++, c++) { wheel[c, 0] = 255 - 255 * k / 6; wheel[c, 1] = 255; }
        for (var k = 0; k < 4; k++, c++) { wheel[c, 1] = 255; wheel[c, 2] = 255 * k / 4; }
        for (var k = 0; k < 11; k++, c++) { wheel[c, 1] = 255 - 255 * k / 11; wheel[c, 2] = 255; }
        for (var k = 0; k < 13; k++, c++) { wheel[c, 2] = 255; wheel[c, 0] = 255 * k / 13; }
        for (var k = 0; k < 6; k++, c++) { wheel[c, 2] = 255 - 255 * k / 6; wheel[c, 0] = 255; }
        for (var k = 0; k < Columns; k++)
        {
            R[k] = wheel[k, 0] / 255f;
            G[k] = wheel[k, 1] / 255f;
            B[k] = wheel[k, 2] / 255f;
        }
    }

    /// <summary>The normaliser torchvision divides the flow by: <c>max_norm + eps</c> in float32.</summary>
    public static float Denominator(float maxNorm) => maxNorm + Epsilon;

    /// <summary>Colours one flow vector <c>(u, v)</c> (pixels) given <see cref="Denominator"/>.</summary>
    public static (byte R, byte G, byte B) Colorize(float u, float v, float denominator)
    {
        var nu = u / denominator;
        var nv = v / denominator;
        var norm = MathF.Sqrt(nu * nu + nv * nv);
        // atan2(−v, −u): for v == +0 and u > 0 this is −π (red), the seam of docs/model.md §9.2.
        var a = MathF.Atan2(-nv, -nu) / MathF.PI;
        var fk = (a + 1f) / 2f * (Columns - 1);
        var k0 = (int)MathF.Floor(fk);
        var k1 = k0 + 1;
        if (k1 == Columns) k1 = 0;
        var f = fk - k0;
        return (Channel(R, k0, k1, f, norm), Channel(G, k0, k1, f, norm), Channel(B, k0, k1, f, norm));
    }

    private static byte Channel(float[] wheel, int k0, int k1, float f, float norm)
    {
        var col = (1f - f) * wheel[k0] + f * wheel[k1];
        col = 1f - norm * (1f - col);
        return (byte)(int)MathF.Floor(255f * col);
    }
}
