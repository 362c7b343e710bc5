"""The vendor HTTP client: 429s waited out as the vendor says, a bounded number of times; the key
never in an error; no host but the vendor's followed."""

import pytest

from importers.client import MAX_RETRIES, Client, VendorError, next_link_pages, retry_delay

from .fakes import FakeVendor

KEY = "GenieKey secret-0000111122223333"


@pytest.fixture(autouse=True)
def _private(settings):
    settings.ALLOW_PRIVATE_TARGETS = True


def test_the_delay_comes_from_the_vendors_headers_and_is_bounded():
    assert retry_delay({"Retry-After": "12"}) == 12
    assert retry_delay({"ratelimit-reset": "3"}) == 3
    assert retry_delay({"X-RateLimit-Reset": "1000000050"}, now=1000000000) == 50  # an epoch time
    assert retry_delay({"Retry-After": "86400"}) == 60
    assert retry_delay({}) == 1.0


def test_a_vendor_that_keeps_answering_429_is_given_up_on(settings):
    sleeps = []
    with FakeVendor(retry_after="5") as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": []})
        client = Client(fake.url, {"Authorization": KEY}, sleep=sleeps.append)
        fake._thrown = _NeverThrown()  # every request is throttled
        fake.throttled.add("/v2/users")
        with pytest.raises(VendorError) as error:
            client.get("v2/users")
    assert sleeps == [5.0] * MAX_RETRIES and "rate limited" in str(error.value)
    assert KEY not in str(error.value) and len(fake.requests) == MAX_RETRIES + 1


def test_a_next_link_to_another_host_is_refused(settings):
    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": [{"id": 1}], "paging": {"next": "http://169.254.169.254/x"}})
        client = Client(fake.url, {"Authorization": KEY})
        with pytest.raises(VendorError) as error:
            list(next_link_pages(client, "v2/users"))
    assert "another host" in str(error.value)


def test_a_refused_key_says_which_permission_to_check():
    with FakeVendor() as fake:
        def refuse(m, q):
            raise AssertionError  # never reached: answered below
        fake.route(r"/nothing", refuse)
        client = Client(fake.url + "/nothing-here", {"Authorization": KEY})
        with pytest.raises(VendorError) as error:
            client.get("v2/users")
    assert "404" in str(error.value) and KEY not in str(error.value)


class _NeverThrown(set):
    def __contains__(self, item):
        return False

    def add(self, item):
        pass


# --- a hostile vendor: the job ends with a clear error, never a crash or a worker held forever -----


def test_an_answer_larger_than_the_cap_is_refused_without_reading_it_all(monkeypatch):
    from importers import client as client_module

    monkeypatch.setattr(client_module, "MAX_BODY", 64 * 1024)
    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": ["x" * 1000] * 200})  # ~200 kB
        with pytest.raises(VendorError) as error:
            Client(fake.url, {"Authorization": KEY}).get("v2/users")
    assert "larger than" in str(error.value) and KEY not in str(error.value)


def test_an_answer_that_takes_too_long_to_read_is_given_up_on():
    ticks = iter(range(0, 10**6, 100))  # every look at the clock: 100 s later
    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": ["x" * 1000] * 300})  # several chunks
        client = Client(fake.url, {"Authorization": KEY}, monotonic=lambda: next(ticks))
        with pytest.raises(VendorError) as error:
            client.get("v2/users")
    assert "longer than" in str(error.value)


@pytest.mark.parametrize("body", [[1, 2], "text", 7, None])
def test_an_answer_that_is_not_a_json_object_is_a_vendor_error(body):
    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: body)
        with pytest.raises(VendorError) as error:
            Client(fake.url, {"Authorization": KEY}).get("v2/users")
    assert "not a JSON object" in str(error.value)


@pytest.mark.parametrize("body", [{"data": {"id": 1}}, {"data": [{"id": 1}], "paging": {"next": 5}},
                                  {"data": [{"id": 1}], "paging": ["next"]}])
def test_pages_of_the_wrong_shape_are_a_vendor_error(body):
    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: body)
        with pytest.raises(VendorError):
            list(next_link_pages(Client(fake.url, {"Authorization": KEY}), "v2/users"))


def test_a_host_that_resolves_to_a_private_address_at_connect_time_is_refused(settings, monkeypatch):
    """The base URL was vetted when the job started; a DNS answer that changes afterwards (rebinding)
    must not reach a private address: the connection itself goes to vetted addresses only."""
    from ilert import netguard

    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": []})
        client = Client(fake.url, {"Authorization": KEY})  # allowed while private targets are allowed
        settings.ALLOW_PRIVATE_TARGETS = False
        monkeypatch.setattr(netguard, "check_url", lambda url: None)  # as if the name had resolved publicly
        with pytest.raises(VendorError):
            client.get("v2/users")
        assert fake.requests == []


def test_endless_pages_end_when_the_job_has_taken_too_long_in_all():
    from importers.client import TOTAL_SECONDS, offset_pages

    now = [0.0]
    with FakeVendor() as fake:
        def page(m, q):
            now[0] += 100  # every page: 100 s of the vendor's time (inside the limit of one answer)
            return {"users": [{"id": q["offset"]}], "more": True}

        fake.route(r"/users", page)
        client = Client(fake.url, {"Authorization": KEY}, monotonic=lambda: now[0])
        with pytest.raises(VendorError) as error:
            list(offset_pages(client, "users", "users"))
    assert "hours in all" in str(error.value)
    assert len(fake.requests) == TOTAL_SECONDS // 100 + 1  # the first request past the budget is never sent
