"""Both portals in real headless Chromium: log in, list (screenshots), detail, forms, load more."""

from __future__ import annotations

import pytest

from sandbox import CREDENTIALS

pytestmark = pytest.mark.browser


async def test_gov12315_in_chromium(browser, module_sandbox, artifacts_dir) -> None:
    sb = module_sandbox
    sb.generate(15, "gov12315")
    key = sb.inject("gov12315", {"content": "<script>alert('xss')</script>年费被乱扣", "status": "待处理"})
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    try:
        await page.goto(f"{sb.urls['gov12315']}/complaints")
        assert page.url.endswith("/login")
        await page.fill("input[name=username]", CREDENTIALS["gov12315"]["username"])
        await page.fill("input[name=password]", CREDENTIALS["gov12315"]["password"])
        await page.click("#login-form button[type=submit]")
        await page.wait_for_url("**/login/sms")
        await page.fill("input[name=sms_code]", sb.sms_code())
        await page.click("#sms-form button[type=submit]")
        await page.wait_for_url("**/complaints")
        assert await page.locator("tr.complaint-row").count() >= 10
        await page.screenshot(path=str(artifacts_dir / "sandbox-gov12315-list.png"), full_page=True)

        await page.goto(f"{sb.urls['gov12315']}/complaints/{key}")
        content = await page.locator("td[data-field=content]").inner_text()
        assert content.startswith("<script>alert('xss')</script>")  # shown as text, not run
        await page.fill("#handle-form textarea[name=process]", "已电话联系消费者并退还费用")
        await page.select_option("#handle-form select[name=method]", "电话协商")
        await page.check("#handle-form input[name=result][value=和解成功]")
        await page.click("#handle-form button[type=submit]")
        await page.wait_for_selector(".alert-success")
        assert await page.locator("#handle-form").count() == 0
        assert await page.locator("td[data-field=status]").inner_text() == "已办结"
        assert dialogs == []
        assert [w["external_id"] for w in sb.writes("gov12315")] == [key]
    finally:
        await ctx.close()


async def test_blackcat_in_chromium(browser, module_sandbox, artifacts_dir) -> None:
    sb = module_sandbox
    sb.generate(15, "blackcat")
    total = len(sb.records("blackcat"))
    ctx = await browser.new_context(viewport={"width": 1000, "height": 900})
    page = await ctx.new_page()
    try:
        await page.goto(f"{sb.urls['blackcat']}/login")
        await page.fill("input[name=account]", CREDENTIALS["blackcat"]["account"])
        await page.fill("input[name=password]", CREDENTIALS["blackcat"]["password"])
        await page.click("#loginForm button")
        await page.wait_for_url("**/merchant/complaints")
        assert await page.locator(".complaint-card").count() == 10
        await page.screenshot(path=str(artifacts_dir / "sandbox-blackcat-list.png"), full_page=True)
        while await page.locator("#load-more").count():
            before = await page.locator(".complaint-card").count()
            await page.click("#load-more")
            await page.wait_for_function(f"document.querySelectorAll('.complaint-card').length > {before}")
        assert await page.locator(".complaint-card").count() == total
        assert await page.locator(".no-more").count() == 1

        sn = await page.locator(".complaint-card").first.get_attribute("data-sn")
        await page.locator(".complaint-card a.card-title").first.click()
        await page.wait_for_selector("#reply-form")
        assert sn in await page.locator(".complaint-sn").inner_text()
        await page.fill("#reply-form textarea[name=content]", "您好，我们已经为您处理，请查收")
        await page.click("#reply-form button")
        await page.wait_for_selector("#complete-form")
        assert await page.locator(".status-tag").inner_text() == "已回复"
        await page.click("#complete-form button")
        await page.wait_for_selector("text=商家申请完成，投诉已完成")
        assert await page.locator(".status-tag").inner_text() == "已完成"
        assert [w["kind"] for w in sb.writes("blackcat")] == ["reply", "complete"]

        # The markup variant renames the structure: the default selectors stop matching.
        sb.set_faults("blackcat", markup_variant="v2")
        await page.goto(f"{sb.urls['blackcat']}/merchant/complaints")
        assert await page.locator(".complaint-card").count() == 0
        assert await page.locator(".tousu-item").count() == 10
        await page.click("a.more-btn")
        await page.wait_for_function("document.querySelectorAll('.tousu-item').length > 10")
    finally:
        sb.set_faults("blackcat", markup_variant="default")
        await ctx.close()
