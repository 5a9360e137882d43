using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Authority;

/// <summary>Sign-in, sign-up and sign-out of the authority's browser session; every form carries an anti-forgery token.</summary>
public static class SignInPages
{
    public const string SignInPath = "/account/signin";
    public const string SignUpPath = "/account/signup";
    public const string SignOutPath = "/account/signout";

    /// <summary>Sends a signed-out visitor to the sign-in form, and from there back to <paramref name="returnUrl"/>.</summary>
    public static IResult SignInFirst(string returnUrl) => Results.Redirect($"{SignInPath}?return_url={Uri.EscapeDataString(returnUrl)}");

    /// <summary><see cref="SignInFirst(string)"/> back to this request's page (path and query).</summary>
    public static IResult SignInFirst(HttpContext context) => SignInFirst(context.Request.Path + context.Request.QueryString);
    private const int MinPasswordLength = 10;
    private const int MaxPasswordLength = 256;
    private const int SignInAttemptsPerWindow = 10;
    private static readonly TimeSpan SignInWindow = TimeSpan.FromMinutes(15);

    public static IEndpointRouteBuilder MapSignInPages(this IEndpointRouteBuilder app)
    {
        app.MapGet(SignInPath, ShowSignInAsync).ExcludeFromDescription();
        app.MapPost(SignInPath, SignInAsync).ExcludeFromDescription().DisableAntiforgery();
        app.MapGet(SignUpPath, (HttpContext context, IAntiforgery antiforgery, IOptions<AuthorityOptions> options, [FromQuery(Name = "return_url")] string? returnUrl) =>
            options.Value.SignUpEnabled ? SignUpForm(context, antiforgery, returnUrl, error: null) : Html.Page("Sign-up is closed", "<p>This site does not take new accounts.</p>", 403))
            .ExcludeFromDescription();
        app.MapPost(SignUpPath, SignUpAsync).ExcludeFromDescription().DisableAntiforgery();
        app.MapPost(SignOutPath, SignOutAsync).ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    /// <summary>
    /// A return URL is followed only within this site: a path, never <c>//host</c> or <c>/\host</c>; without one (or with a
    /// bad one) the visitor goes to <paramref name="fallback"/>.
    /// </summary>
    public static string SafeReturnUrl(string? url, string fallback = "/") =>
        url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) && !url.Contains('\n') && !url.Contains('\r')
            ? url
            : fallback;

    /// <summary>Where signing in or up leads when the form names nowhere: the account's own images.</summary>
    private static string AfterSignIn(string? returnUrl) => SafeReturnUrl(returnUrl, Html.DashboardPath);

    /// <summary>The sign-in form; someone already signed in goes straight on to where the form would have sent them.</summary>
    private static async Task<IResult> ShowSignInAsync(HttpContext context, IAntiforgery antiforgery, [FromQuery(Name = "return_url")] string? returnUrl) =>
        await Sessions.CurrentAccountAsync(context) is null
            ? SignInForm(context, antiforgery, returnUrl, error: null)
            : Results.Redirect(AfterSignIn(returnUrl));

    private static IResult SignInForm(HttpContext context, IAntiforgery antiforgery, string? returnUrl, string? error, int status = 200)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        var signUp = $"{SignUpPath}?return_url={Uri.EscapeDataString(AfterSignIn(returnUrl))}";
        return Html.Page("Sign in", $"""
            {(error is null ? "" : $"<p class=\"error\" role=\"alert\">{Html.Encode(error)}</p>")}
            <form method="post" action="{SignInPath}">
            <input type="hidden" name="{tokens.FormFieldName}" value="{Html.Encode(tokens.RequestToken)}">
            <input type="hidden" name="return_url" value="{Html.Encode(AfterSignIn(returnUrl))}">
            <label for="name">Account name</label><input type="text" id="name" name="name" autocomplete="username" required autofocus>
            <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button>
            </form>
            <p>No account yet? <a href="{Html.Encode(signUp)}">Create one</a>.</p>
            """, status);
    }

    private static IResult SignUpForm(HttpContext context, IAntiforgery antiforgery, string? returnUrl, string? error, int status = 200)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        return Html.Page("Create an account", $"""
            {(error is null ? "" : $"<p class=\"error\" role=\"alert\">{Html.Encode(error)}</p>")}
            <form method="post" action="{SignUpPath}">
            <input type="hidden" name="{tokens.FormFieldName}" value="{Html.Encode(tokens.RequestToken)}">
            <input type="hidden" name="return_url" value="{Html.Encode(AfterSignIn(returnUrl))}">
            <label for="name">Account name (letters, digits, - _ .)</label><input type="text" id="name" name="name" autocomplete="username" required autofocus>
            <label for="password">Password (at least {MinPasswordLength} characters)</label><input type="password" id="password" name="password" autocomplete="new-password" required minlength="{MinPasswordLength}">
            <button type="submit">Create account</button>
            </form>
            """, status);
    }

    private static async Task<IResult> SignInAsync(
        HttpContext context, IAntiforgery antiforgery, AccountService accounts, Sessions sessions, SharedState shared, CancellationToken cancellationToken)
    {
        if (!await IsValidFormAsync(context, antiforgery))
        {
            return Html.Page("Sign in", "<p class=\"error\" role=\"alert\">The form expired or came from another site. Go back, reload and try again.</p>", 400);
        }

        var form = context.Request.Form;
        string name = form["name"].ToString().Trim(), password = form["password"].ToString(), returnUrl = form["return_url"].ToString();
        // Per name and per address, across all nodes: guessing one account's password or many accounts' from one place is slow.
        var attempts = Math.Max(
            await shared.HitAsync($"signin:name:{name.ToLowerInvariant()}", SignInWindow, cancellationToken),
            await shared.HitAsync($"signin:addr:{PowApi.ClientAddress(context)}", SignInWindow, cancellationToken) / 5);
        if (attempts > SignInAttemptsPerWindow)
        {
            return SignInForm(context, antiforgery, returnUrl, "Too many attempts. Wait 15 minutes and try again.", 429);
        }

        if (name.Length is 0 or > 64 || password.Length is 0 or > MaxPasswordLength)
        {
            return SignInForm(context, antiforgery, returnUrl, "Wrong account name or password.", 400);
        }

        var (outcome, account) = await accounts.VerifyPasswordAsync(name, password, cancellationToken);
        if (outcome != AccountService.SignInOutcome.Success)
        {
            var message = outcome == AccountService.SignInOutcome.Banned ? "This account is banned." : "Wrong account name or password.";
            return SignInForm(context, antiforgery, returnUrl, message, outcome == AccountService.SignInOutcome.Banned ? 403 : 400);
        }

        await StartSessionAsync(context, sessions, account!, cancellationToken);
        return Results.Redirect(AfterSignIn(returnUrl));
    }

    private static async Task<IResult> SignUpAsync(
        HttpContext context, IAntiforgery antiforgery, AccountService accounts, Sessions sessions, SharedState shared,
        IOptions<AuthorityOptions> options, CancellationToken cancellationToken)
    {
        if (!options.Value.SignUpEnabled)
        {
            return Html.Page("Sign-up is closed", "<p>This site does not take new accounts.</p>", 403);
        }

        if (!await IsValidFormAsync(context, antiforgery))
        {
            return Html.Page("Create an account", "<p class=\"error\" role=\"alert\">The form expired or came from another site. Go back, reload and try again.</p>", 400);
        }

        var form = context.Request.Form;
        string name = form["name"].ToString().Trim(), password = form["password"].ToString(), returnUrl = form["return_url"].ToString();
        if (await shared.HitAsync($"signup:addr:{PowApi.ClientAddress(context)}", TimeSpan.FromHours(1), cancellationToken) > 10)
        {
            return SignUpForm(context, antiforgery, returnUrl, "Too many new accounts from your address. Try again in an hour.", 429);
        }

        if (password.Length is < MinPasswordLength or > MaxPasswordLength)
        {
            return SignUpForm(context, antiforgery, returnUrl, $"The password must be {MinPasswordLength} to {MaxPasswordLength} characters long.", 400);
        }

        Account account;
        try
        {
            account = (await accounts.CreateAsync(name, admin: false, password, cancellationToken)).Account;
        }
        catch (ArgumentException exception)
        {
            return SignUpForm(context, antiforgery, returnUrl, exception.Message, 400);
        }

        await StartSessionAsync(context, sessions, account, cancellationToken);
        return Results.Redirect(AfterSignIn(returnUrl));
    }

    private static async Task<IResult> SignOutAsync(HttpContext context, IAntiforgery antiforgery, Sessions sessions, CancellationToken cancellationToken)
    {
        if (!await IsValidFormAsync(context, antiforgery))
        {
            return Html.Page("Sign out", "<p class=\"error\" role=\"alert\">The form expired or came from another site.</p>", 400);
        }

        var result = await context.AuthenticateAsync(Sessions.Scheme);
        if (result.Principal is { } principal)
        {
            await sessions.EndAsync(principal, cancellationToken);
        }

        await context.SignOutAsync(Sessions.Scheme);
        return Results.Redirect(SafeReturnUrl(context.Request.Form["return_url"]));
    }

    private static async Task StartSessionAsync(HttpContext context, Sessions sessions, Account account, CancellationToken cancellationToken)
    {
        var principal = await sessions.StartAsync(account, context.Request.Headers.UserAgent, cancellationToken);
        await context.SignInAsync(Sessions.Scheme, principal, new AuthenticationProperties { IsPersistent = true });
    }

    /// <summary>A form post with a valid anti-forgery token (and no other content type: JSON cannot be forged into a form here).</summary>
    public static async Task<bool> IsValidFormAsync(HttpContext context, IAntiforgery antiforgery) =>
        context.Request.HasFormContentType && await antiforgery.IsRequestValidAsync(context);
}
