using SkiaSharp;
using Tora.Inference.Noise;
using Tora.Inference.Vae;

namespace Tora.Inference.Pipeline;

/// <summary>
/// Image-to-video conditioning (tora-reference §4.4): the first frame decoded, converted to RGB with the alpha
/// channel dropped (PIL <c>convert("RGB")</c>, not composited), resized to the model's size when it differs,
/// scaled to [−1, 1], VAE-encoded as a one-frame clip, posterior-sampled with the job's noise source
/// (<see cref="NoiseConsumer.ImagePosterior"/>) × scaling factor, and padded with all-zero latent frames to
/// <c>[1, T, C, h, w]</c>; the transformer takes it concatenated to the noisy latents on channels.
/// </summary>
public static class FirstFrameEncoder
{
    /// <summary>Decodes an image into RGB <c>[H, W, 3]</c> at <paramref name="width"/> × <paramref name="height"/>.</summary>
    /// <exception cref="ToraPipelineException">The bytes are not a decodable image (code <c>invalid_input</c>).</exception>
    public static byte[] DecodeRgb(byte[] encoded, int width, int height)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new ToraPipelineException(ToraPipelineException.InvalidInput, "the first frame cannot be decoded (expected PNG, JPEG, WebP, GIF or BMP)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var decoded = new SKBitmap(info);
        var result = codec.GetPixels(info, decoded.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new ToraPipelineException(ToraPipelineException.InvalidInput, $"the first frame image data is corrupt ({result})");
        // Alpha dropped, not blended: the colour values stay as stored (PIL convert("RGB")).
        var rgba = decoded.GetPixelSpan();
        for (int i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
        decoded.NotifyPixelsChanged();

        using var sized = decoded.Width == width && decoded.Height == height
            ? decoded.Copy()
            : Resize(decoded, width, height);
        var pixels = sized.GetPixelSpan();
        var rgb = new byte[width * height * 3];
        for (int i = 0, n = width * height; i < n; i++)
        {
            rgb[i * 3] = pixels[i * 4];
            rgb[i * 3 + 1] = pixels[i * 4 + 1];
            rgb[i * 3 + 2] = pixels[i * 4 + 2];
        }
        return rgb;
    }

    /// <summary>Resizes ignoring the aspect ratio (as the original's <c>resize((W, H))</c>), bicubic.</summary>
    private static SKBitmap Resize(SKBitmap source, int width, int height)
    {
        var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(target);
        using var image = SKImage.FromBitmap(source);
        using var paint = new SKPaint { BlendMode = SKBlendMode.Src };
        canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKCubicResampler.CatmullRom), paint);
        canvas.Flush();
        return target;
    }

    /// <summary>
    /// The image latents <c>[1, T, C, h, w]</c>: frame 0 the scaled posterior sample of the first frame, frames
    /// 1..T−1 zeros.
    /// </summary>
    public static float[] Encode(byte[] encodedImage, VaeEncoder vaeEncoder, double scalingFactor, int latentFrames, INoiseSource noise)
    {
        int width = vaeEncoder.Width, height = vaeEncoder.Height, plane = width * height;
        var rgb = DecodeRgb(encodedImage, width, height);
        var pixels = new float[3 * plane]; // [1, 3, 1, H, W]
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < plane; p++)
                pixels[c * plane + p] = rgb[p * 3 + c] / 255f * 2f - 1f;
        var posterior = vaeEncoder.Encode(pixels, 1, FrameLayout.ChannelsFirst);
        var draw = new float[posterior.Mean.Length];
        noise.Draw([1, posterior.Channels, 1, posterior.Height, posterior.Width], draw, NoiseConsumer.ImagePosterior);
        var first = posterior.Sample(draw, scalingFactor, FrameLayout.FramesFirst); // [1, 1, C, h, w]
        var latents = new float[(long)latentFrames * first.Length];
        first.CopyTo(latents, 0);
        return latents;
    }
}
