using Microsoft.Playwright;

namespace Tora.Web.Tests;

/// <summary>
/// The web page in Debian's Chromium against the real API, PostgreSQL and a worker (fake generator, real MP4s):
/// drawing, presets, preview, generation with live progress, the result video, and field errors down to the point.
/// Every wait is on a condition (no fixed sleeps).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class WebBrowserTests(BrowserFixture web)
{
    private static Task ClickCanvasAsync(IPage page, double fx, double fy) =>
        page.Locator("#canvas").ClickAsync(new LocatorClickOptions { Position = new Position { X = (float)fx, Y = (float)fy } });

    private static async Task<(float W, float H)> CanvasSizeAsync(IPage page)
    {
        var box = await page.Locator("#canvas").BoundingBoxAsync();
        return (box!.Width, box.Height);
    }

    /// <summary>Waits until the video element has decoded frames and its clock advances (it really plays).</summary>
    private static async Task AssertVideoPlaysAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => { const v = document.getElementById('video'); return v.readyState >= 2 && v.videoWidth > 0; }");
        await page.EvalOnSelectorAsync("#video", "v => v.play()");
        var t0 = await page.EvalOnSelectorAsync<double>("#video", "v => v.currentTime");
        await page.WaitForFunctionAsync($"() => {{ const v = document.getElementById('video'); return v.currentTime !== {t0.ToString(System.Globalization.CultureInfo.InvariantCulture)} && !v.paused; }}");
    }

    [Fact]
    public async Task Two_trajectories_drawn_by_clicking_a_preset_undo_redo_and_a_preview_that_plays()
    {
        var page = await web.OpenAsync();
        var (w, h) = await CanvasSizeAsync(page);
        Assert.InRange(w / h, 160.0 / 96 - 0.03, 160.0 / 96 + 0.03); // the model's aspect ratio

        foreach (var (x, y) in new[] { (0.1, 0.2), (0.3, 0.25), (0.5, 0.4) }) await ClickCanvasAsync(page, x * w, y * h);
        await page.ClickAsync("#newTrajectory");
        foreach (var (x, y) in new[] { (0.8, 0.8), (0.6, 0.7), (0.4, 0.75), (0.2, 0.8) }) await ClickCanvasAsync(page, x * w, y * h);
        var summaries = page.Locator("#trajectoryList summary");
        await Assertions.Expect(summaries).ToHaveCountAsync(2);
        await Assertions.Expect(summaries.Nth(0)).ToContainTextAsync("3 points");
        await Assertions.Expect(summaries.Nth(1)).ToContainTextAsync("4 points");

        // Drag the first point of trajectory 1 to the right: the x input follows.
        var x0 = await page.InputValueAsync("[data-pointer='/trajectories/0/points/0'] input >> nth=0");
        await page.Mouse.MoveAsync((await page.Locator("#canvas").BoundingBoxAsync())!.X + (float)(0.1 * w), (await page.Locator("#canvas").BoundingBoxAsync())!.Y + (float)(0.2 * h));
        await page.Mouse.DownAsync();
        var box = (await page.Locator("#canvas").BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + (float)(0.15 * w), box.Y + (float)(0.2 * h), new MouseMoveOptions { Steps = 4 });
        await page.Mouse.UpAsync();
        await Assertions.Expect(page.Locator("[data-pointer='/trajectories/0/points/0'] input >> nth=0")).Not.ToHaveValueAsync(x0);

        // Keyboard: arrows move the selected point (Shift: by 10), Delete removes it, undo, redo.
        var moved = double.Parse(await SettledInputValueAsync(page, "[data-pointer='/trajectories/0/points/0'] input >> nth=0"), System.Globalization.CultureInfo.InvariantCulture);
        await page.Locator("#canvas").PressAsync("Shift+ArrowRight");
        await Assertions.Expect(page.Locator("[data-pointer='/trajectories/0/points/0'] input >> nth=0"))
            .ToHaveValueAsync((moved + 10).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.Locator("#canvas").PressAsync("Delete");
        await Assertions.Expect(summaries.Nth(0)).ToContainTextAsync("2 points");
        await page.ClickAsync("#undo");
        await Assertions.Expect(summaries.Nth(0)).ToContainTextAsync("3 points");
        await page.ClickAsync("#redo");
        await Assertions.Expect(summaries.Nth(0)).ToContainTextAsync("2 points");
        await page.ClickAsync("#undo");
        await web.ScreenshotAsync(page, "01-two-trajectories");

        // The nine presets; one added to the drawing.
        await Assertions.Expect(page.Locator("#preset option")).ToHaveCountAsync(10);
        await page.CheckAsync("#presetAppend");
        await page.SelectOptionAsync("#preset", "spiral");
        await Assertions.Expect(summaries).ToHaveCountAsync(3);

        await page.ClickAsync("#previewButton");
        await Assertions.Expect(page.Locator("#videoCaption")).ToContainTextAsync("Motion preview");
        await AssertVideoPlaysAsync(page);
        await web.ScreenshotAsync(page, "02-preview");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_generation_shows_progress_to_100_percent_plays_the_result_and_lists_it_with_a_thumbnail()
    {
        var page = await web.OpenAsync();
        await page.SelectOptionAsync("#preset", "coaster");
        await Assertions.Expect(page.Locator("#trajectoryList summary")).ToHaveCountAsync(1);
        await page.FillAsync("#prompt", "a paper boat drifting along the path");
        await page.ClickAsync("#dice");
        Assert.Matches("^[0-9]+$", await page.InputValueAsync("#seed"));
        await page.FillAsync("#steps", "10");
        await page.FillAsync("#guidance", "6");
        await page.ClickAsync("#generate");

        // Live progress: a step count appears while it runs, then 100 %.
        await Assertions.Expect(page.Locator("#progressDetail")).ToContainTextAsync("of 10");
        await web.ScreenshotAsync(page, "03-progress");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Done: 100 %", new() { Timeout = 60_000 });
        Assert.Equal(100, await page.EvalOnSelectorAsync<double>("#progress", "p => p.value"));
        await Assertions.Expect(page.Locator("#player")).ToHaveAttributeAsync("data-kind", "result");
        await Assertions.Expect(page.Locator("#download")).ToBeVisibleAsync();
        await AssertVideoPlaysAsync(page);
        Assert.Equal(10, web.Fake.LastRequest!.Steps);
        Assert.Equal(6, web.Fake.LastRequest.GuidanceScale);

        var thumb = page.Locator("#history li", new() { HasText = "a paper boat" }).Locator("img");
        await Assertions.Expect(thumb).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("^blob:"));
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#history img')].some(i => i.complete && i.naturalWidth > 0)");
        await web.ScreenshotAsync(page, "04-result");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Motion_controls_reach_the_generator_a_bad_window_is_marked_and_a_flow_video_replaces_the_trajectories()
    {
        var page = await web.OpenAsync();
        await page.SelectOptionAsync("#preset", "coaster");
        await Assertions.Expect(page.Locator("#trajectoryList summary")).ToHaveCountAsync(1);
        await page.FillAsync("#prompt", "motion controls from the page");
        await page.FillAsync("#steps", "4");

        // A window that ends before it starts: the error sits next to the motion controls, on the end input.
        await page.FillAsync("#motionStart", "0.5");
        await page.FillAsync("#motionEnd", "0.2");
        await page.ClickAsync("#generate");
        await Assertions.Expect(page.Locator("#motionEnd")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator(".field-error[data-pointer='/motion']")).ToContainTextAsync("start");
        await web.ScreenshotAsync(page, "09-motion-error");

        await page.FillAsync("#motionStrength", "0.6");
        await page.FillAsync("#motionStart", "");
        await page.ClickAsync("#generate");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Done: 100 %", new() { Timeout = 60_000 });
        Assert.Equal(new Tora.Motion.Trajectories.MotionControls(0.6, 0, 0.2), web.Fake.LastRequest!.Motion);
        Assert.Single(web.Fake.LastRequest.Trajectories);

        // A flow video (an MP4 of flow images at the model's size) is sent as the multipart part flow_video.
        var geometry = new Tora.Motion.Trajectories.VideoGeometry(13, 96, 160);
        var coaster = Tora.Motion.Trajectories.TrajectoryPresets.List.Single(p => p.Name == "coaster").Trajectory;
        var rgb = Tora.Motion.Trajectories.FlowVideo.FromTrajectories([coaster], geometry).ToRgb();
        var mp4 = await Tora.Motion.Video.Mp4Writer.EncodeAsync(new Tora.Motion.Video.RgbVideo(rgb, 13, 96, 160));
        await page.SetInputFilesAsync("#flowFile", new FilePayload { Name = "flow.mp4", MimeType = "video/mp4", Buffer = mp4 });
        await Assertions.Expect(page.Locator("#flowInfo")).ToContainTextAsync("flow.mp4");
        await page.ClickAsync("#previewButton");
        await Assertions.Expect(page.Locator("#videoCaption")).ToContainTextAsync("uploaded flow video");
        await page.FillAsync("#prompt", "a flow video from the page");
        await page.ClickAsync("#generate");
        // The status still shows the previous job's "Done": wait until the worker has this job's request.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (web.Fake.LastRequest?.Prompt != "a flow video from the page" && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal("a flow video from the page", web.Fake.LastRequest!.Prompt);
        Assert.Equal(rgb.Length, web.Fake.LastRequest.FlowVideo!.Length);
        Assert.Empty(web.Fake.LastRequest.Trajectories);
        await Assertions.Expect(page.Locator("#history li", new() { HasText = "a flow video from the page" })).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Done: 100 %", new() { Timeout = 60_000 });
        await web.ScreenshotAsync(page, "10-flow-video");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_out_of_canvas_point_is_shown_as_an_error_at_that_point()
    {
        var page = await web.OpenAsync();
        var json = """{"trajectories":[{"space":"canvas256","points":[[20,20],[120,60],[300,90],[200,200]]}]}""";
        await page.SetInputFilesAsync("#importFile", new FilePayload { Name = "bad.json", MimeType = "application/json", Buffer = System.Text.Encoding.UTF8.GetBytes(json) });
        await Assertions.Expect(page.Locator("#trajectoryList summary")).ToContainTextAsync("4 points");
        await page.ClickAsync("#generate");

        var point = page.Locator("[data-pointer='/trajectories/0/points/2']");
        await Assertions.Expect(point).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(point.Locator(".field-error")).ToContainTextAsync("outside");
        // The API says "trajectory 0 point 2" (its pointers count from 0); the page says what its rows say.
        await Assertions.Expect(point.Locator(".field-error")).ToContainTextAsync("trajectory 1 point 3 (300, 90)");
        await Assertions.Expect(page.Locator("[data-pointer='/trajectories/0/points/1']")).Not.ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator("#formError")).Not.ToBeEmptyAsync();
        await web.ScreenshotAsync(page, "05-field-error");

        // Fixing the point with the keyboard clears the error on the next request.
        await point.Locator("input").First.FillAsync("250");
        await point.Locator("input").First.PressAsync("Tab");
        await Assertions.Expect(point).Not.ToHaveAttributeAsync("aria-invalid", "true");
        Assert.Equal("Trajectory 1 point 3 y", await page.EvaluateAsync<string>("() => document.activeElement.getAttribute('aria-label')"));
        await page.ClickAsync("#previewButton");
        await Assertions.Expect(page.Locator("#videoCaption")).ToContainTextAsync("Motion preview");
        await Assertions.Expect(page.Locator("[aria-invalid=true]")).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_narrow_window_stacks_the_page_and_an_api_error_on_a_field_marks_that_input()
    {
        var page = await web.OpenAsync(420, 860);
        var canvas = (await page.Locator("#canvas").BoundingBoxAsync())!;
        var prompt = (await page.Locator("#prompt").BoundingBoxAsync())!;
        Assert.True(canvas.Width <= 420 && prompt.Y > canvas.Y + canvas.Height, "one column on a narrow window");
        // Keyboard focus is visible.
        await page.FocusAsync("#prompt");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("negative", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        Assert.Equal("solid", await page.EvaluateAsync<string>("() => getComputedStyle(document.activeElement).outlineStyle"));
        await page.FillAsync("#steps", "999");
        await page.ClickAsync("#generate");
        await Assertions.Expect(page.Locator("#steps")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator(".field-error[data-pointer='/steps']")).Not.ToBeEmptyAsync();
        await web.ScreenshotAsync(page, "06-narrow");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_queued_generation_can_be_cancelled()
    {
        var page = await web.OpenAsync();
        await page.SelectOptionAsync("#model", "tora-queued");
        await page.SelectOptionAsync("#preset", "wave");
        await page.FillAsync("#prompt", "waiting in line");
        await page.ClickAsync("#generate");
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("Queued");
        await page.ClickAsync("#cancel");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^Cancell?ed"));
        await Assertions.Expect(page.Locator("#cancel")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#banner")).ToBeEmptyAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Txt_and_json_round_trip_and_a_first_frame_image_makes_an_image_to_video_request()
    {
        var page = await web.OpenAsync();
        var txt = "10,20\n60,40\n120,80\n200,100\n";
        await page.SetInputFilesAsync("#importFile", new FilePayload { Name = "mine.txt", MimeType = "text/plain", Buffer = System.Text.Encoding.UTF8.GetBytes(txt) });
        await Assertions.Expect(page.Locator("#trajectoryList summary")).ToContainTextAsync("4 points");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#exportTxt"));
        Assert.Equal(txt, await File.ReadAllTextAsync(await download.PathAsync()));

        await page.CheckAsync("#presetAppend");
        await page.SelectOptionAsync("#preset", "circle");
        download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#exportJson"));
        var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(await download.PathAsync())).RootElement;
        Assert.Equal(2, json.GetProperty("trajectories").GetArrayLength());
        Assert.Equal("canvas256", json.GetProperty("trajectories")[0].GetProperty("space").GetString());

        // Drag and drop of an image file onto the canvas.
        var png = Convert.ToBase64String(await File.ReadAllBytesAsync(Tora.TestSupport.TestData.Path("tora-data/images/fox.png")));
        var transfer = await page.EvaluateHandleAsync(
            "b64 => { const d = new DataTransfer(); d.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], 'fox.png', { type: 'image/png' })); return d; }", png);
        await page.DispatchEventAsync("#canvasWrap", "dragover", new Dictionary<string, object> { ["dataTransfer"] = transfer });
        await Assertions.Expect(page.Locator("#dropHint")).ToBeVisibleAsync();
        await page.DispatchEventAsync("#canvasWrap", "drop", new Dictionary<string, object> { ["dataTransfer"] = transfer });
        await Assertions.Expect(page.Locator("#dropHint")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#imageInfo")).ToContainTextAsync("fox.png");
        await page.ClickAsync("#previewButton");
        await Assertions.Expect(page.Locator("#videoCaption")).ToContainTextAsync("Motion preview (paths)");
        await AssertVideoPlaysAsync(page);
        await web.ScreenshotAsync(page, "07-first-frame");

        await page.FillAsync("#prompt", "a fox runs along the path");
        await page.ClickAsync("#generate");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Done: 100 %", new() { Timeout = 60_000 });
        await AssertVideoPlaysAsync(page);
        await page.EvaluateAsync("() => { const v = document.getElementById('video'); v.pause(); v.currentTime = 0.5; window.scrollTo(0, 0); }");
        await web.ScreenshotAsync(page, "08-image-to-video-1280x800", fullPage: false);
        Assert.NotNull(web.Fake.LastRequest!.FirstFrame);
        Assert.Equal("a fox runs along the path", web.Fake.LastRequest.Prompt);
        Assert.Equal(2, web.Fake.LastRequest.Trajectories.Count);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Progress_follows_the_event_stream_resumes_with_Last_Event_ID_and_falls_back_to_polling()
    {
        // The event stream in the documented format ('status', 'progress' with ids, a retry delay), served by the
        // browser's network layer for the first request; later requests answer 404 like an API without the endpoint.
        var page = await web.OpenAsync();
        var resumedWith = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await page.RouteAsync("**/v1/generations/*/events", async route =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await route.FulfillAsync(new RouteFulfillOptions
                {
                    Status = 200,
                    ContentType = "text/event-stream",
                    Body = "retry: 1500\n\n"
                         + "id: 5\nevent: status\ndata: {\"status\":\"running\",\"phase\":\"denoise\",\"step\":0,\"total_steps\":10}\n\n"
                         + ": heartbeat\n\n"
                         + "id: 7\nevent: progress\ndata: {\"status\":\"running\",\"phase\":\"denoise\",\"step\":3,\"total_steps\":10,\"percent\":30,\"eta_seconds\":12.4}\n\n",
                });
                return;
            }
            route.Request.Headers.TryGetValue("last-event-id", out var id);
            resumedWith.TrySetResult(id);
            await route.FulfillAsync(new RouteFulfillOptions { Status = 404, ContentType = "application/problem+json", Body = "{\"title\":\"Not found\"}" });
        });
        await page.SelectOptionAsync("#model", "tora-queued");
        await page.SelectOptionAsync("#preset", "dance");
        await page.ClickAsync("#generate");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Running: 30 %");
        await Assertions.Expect(page.Locator("#progressDetail")).ToHaveTextAsync("denoise · step 3 of 10 · about 13 s left");
        Assert.Equal(30, await page.EvalOnSelectorAsync<double>("#progress", "p => p.value"));
        Assert.Equal("7", await resumedWith.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        // No stream any more: polling shows the real state (no worker serves this model).
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("Queued");
        await page.ClickAsync("#cancel");
        await Assertions.Expect(page.Locator("#cancel")).ToBeHiddenAsync();
        await page.Context.CloseAsync();
    }

    /// <summary>
    /// The value of an input once the page has stopped changing it: the drag's last pointer events may still be
    /// in flight when the first change shows, so read until two reads a couple of frames apart agree.
    /// </summary>
    private static async Task<string> SettledInputValueAsync(IPage page, string selector)
    {
        var last = await page.InputValueAsync(selector);
        for (var i = 0; i < 40; i++)
        {
            await page.EvaluateAsync("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))");
            var now = await page.InputValueAsync(selector);
            if (now == last) return now;
            last = now;
        }
        return last;
    }
}
