"""Configuration: real files in a temporary config dir, loaded with load_config."""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mahnwerk.connectors.woocommerce import KIND as WOOCOMMERCE
from mahnwerk.errors import ConfigError
from mahnwerk.sync.config import (
    Config,
    DatabaseConfig,
    HttpConfig,
    InvoiceConfig,
    LoggingConfig,
    ShopAuth,
    StatusMapping,
    SyncConfig,
    load_config,
    parse_duration,
    unresolved_secrets,
)
from mahnwerk.sync.config.delivery import (
    AgencyConfig,
    DeliveryConfig,
    LettersConfig,
    SmtpConfig,
    example_values,
    missing_for_sending,
)
from mahnwerk.sync.config.secrets import Secret, mask_url
from mahnwerk.sync.config.tomlpos import format_key, key_lines

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"
ENV = {"ACME_WC_KEY": "ck_live_4711", "ACME_WC_SECRET": "cs_live_0815"}
SHOP = """\
[shop]
id = "acme"
kind = "woocommerce"
url = "https://shop.example.com/"
timezone = "Europe/Berlin"

[shop.auth]
consumer_key = "${ACME_WC_KEY}"
consumer_secret = "${ACME_WC_SECRET}"
"""  # anything appended starts on line 10


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path, env: dict[str, str] | None = None) -> Config:
    return load_config(root, environ=ENV if env is None else env)


def problems(root: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(root, env)
    assert caught.value.exit_code == 2
    return [str(problem) for problem in caught.value.problems]


def test_minimal_shop_file_loads(tmp_path: Path) -> None:
    """A shop file with [shop] and [shop.auth] only is a complete shop."""
    source = write(tmp_path, "shops/acme.toml", SHOP)
    shop = load(tmp_path).shop("acme")
    assert (shop.id, shop.kind, shop.url) == ("acme", "woocommerce", "https://shop.example.com")
    assert shop.timezone == ZoneInfo("Europe/Berlin")
    assert shop.auth == ShopAuth({"consumer_key": Secret("ck_live_4711"), "consumer_secret": Secret("cs_live_0815")})
    assert missing_for_sending(shop.merchant) == ["name", "email", "street", "postcode", "city", "iban"]
    assert shop.auth.secrets["consumer_key"].source == "env ACME_WC_KEY"
    assert shop.source == source.absolute() and shop.allow_insecure_http is False


def test_left_out_keys_take_the_dataclass_defaults(tmp_path: Path) -> None:
    """Without mahnwerk.toml and optional tables, every value is its dataclass default."""
    write(tmp_path, "shops/acme.toml", SHOP)
    config = load(tmp_path)
    shop = config.shops[0]
    assert (config.database, config.logging) == (DatabaseConfig(), LoggingConfig())
    assert shop.http == HttpConfig() and shop.sync.interval == SyncConfig().interval == timedelta(minutes=5)
    assert shop.invoice.number_meta_key is None and shop.invoice.payment_term_days == InvoiceConfig().payment_term_days


def test_the_shop_kind_fills_in_what_the_file_leaves_out(tmp_path: Path) -> None:
    """Invoice methods, what the statuses mean, the page size and the paid status come from the kind's registry
    entry unless the file names them; a list the file gives replaces the kind's."""
    write(tmp_path, "shops/acme.toml", SHOP)
    shop = load(tmp_path).shops[0]
    assert shop.sync.page_size == 100 and shop.payments.paid_status == "processing"
    assert shop.invoice.payment_methods == ("bacs", "cheque", "invoice")
    assert shop.statuses == StatusMapping(open=("on-hold",), paid=("processing", "completed"),
                                          cancelled=("cancelled", "failed"), refunded=("refunded",))
    write(tmp_path, "shops/acme.toml", SHOP + '[statuses]\nopen = ["on-hold", "completed"]\npaid = ["processing"]\n')
    assert load(tmp_path).shops[0].statuses.open == ("on-hold", "completed")
    write(tmp_path, "shops/sw.toml", SHOP.replace('"acme"', '"sw"').replace('"woocommerce"', '"shopware6"')
          .replace("consumer_key", "client_id").replace("consumer_secret", "client_secret"))
    sw = load(tmp_path).shop("sw")
    assert sw.invoice.payment_methods == ("payment_invoicepayment",) and sw.sync.page_size == 500
    assert sw.statuses.open == ("open", "reminded", "paid_partially") and sw.statuses.paid == ("paid",)


def test_a_status_the_kind_means_otherwise_is_named_with_its_default(tmp_path: Path) -> None:
    """Moving "completed" to open without taking it out of paid: the problem says paid is the kind's default."""
    write(tmp_path, "shops/acme.toml", SHOP + '[statuses]\nopen = ["on-hold", "completed"]\n')
    assert problems(tmp_path) == ['shops/acme.toml:11: statuses.open: "completed" is also in WooCommerce\'s default '
                                  "statuses.paid; set statuses.paid without it"]


def test_a_page_size_above_the_kinds_limit_is_refused(tmp_path: Path) -> None:
    """WooCommerce answers per_page above 100 with a 400: the config says so first."""
    write(tmp_path, "shops/acme.toml", SHOP + "[sync]\npage_size = 250\n")
    assert problems(tmp_path) == ["shops/acme.toml:11: sync.page_size: must be at most 100 for WooCommerce (got 250)"]


def test_an_unknown_kind_loads_and_is_left_to_check(tmp_path: Path) -> None:
    """A kind this version does not know is that shop's problem, not the whole configuration's."""
    write(tmp_path, "shops/acme.toml", SHOP.replace('"woocommerce"', '"magento"'))
    shop = load(tmp_path).shops[0]
    assert shop.kind == "magento" and shop.shop_kind is None
    assert set(shop.auth.secrets) == {"consumer_key", "consumer_secret"}


def test_global_file_sets_database_and_logging(tmp_path: Path) -> None:
    """mahnwerk.toml sets the database URL (with ${VAR}) and logging; repr masks the password."""
    write(tmp_path, "mahnwerk.toml", '[database]\nurl = "postgresql+psycopg://mw:${PGPASS}@db/mw"\n'
                                     '[logging]\nlevel = "debug"\nformat = "json"\n')
    config = load(tmp_path, {"PGPASS": "hunter2"})
    assert config.database.url == "postgresql+psycopg://mw:hunter2@db/mw"
    assert config.logging == LoggingConfig(level="debug", format="json")
    assert "hunter2" not in repr(config) and "mw:***@db" in repr(config.database)
    assert config.shops == ()


def test_values_are_parsed_into_their_types(tmp_path: Path) -> None:
    """Durations, dates, lists and paths arrive parsed, not as TOML strings."""
    write(tmp_path, "ca.pem", "PEM")
    write(tmp_path, "shops/acme.toml", SHOP + '[sync]\ninterval = "1h 30m"\nsince = 2024-03-01\n'
          '[http]\nca_bundle = "ca.pem"\n[invoice]\npayment_methods = ["german_market_purchase_on_account"]\n')
    shop = load(tmp_path).shops[0]
    assert shop.sync.interval == timedelta(hours=1, minutes=30) and shop.sync.since == date(2024, 3, 1)
    assert shop.http.ca_bundle == tmp_path / "ca.pem"
    assert shop.invoice.payment_methods == ("german_market_purchase_on_account",)


def test_since_also_accepts_a_date_string(tmp_path: Path) -> None:
    """sync.since may be a TOML date or a "YYYY-MM-DD" string."""
    write(tmp_path, "shops/acme.toml", SHOP + '[sync]\nsince = "2024-03-01"\n')
    assert load(tmp_path).shops[0].sync.since == date(2024, 3, 1)


APPENDED = [  # (text appended to SHOP at line 10, the one problem expected)
    ('[invoice]\npayment_term_days = "14"', '11: invoice.payment_term_days: expected an integer, got "14"'),
    ("[sync]\npage_size = true", "11: sync.page_size: expected an integer, got true"),
    ("[sync]\npage_size = 500", "11: sync.page_size: must be at most 100 for WooCommerce (got 500)"),
    ('[sync]\ninterval = "often"', '11: sync.interval: expected a duration like "5m", got "often"'),
    ("[sync]\ninterval = 300", '11: sync.interval: expected a duration like "5m", got 300'),
    ('[sync]\ninterval = "2d"', '11: sync.interval: must be between "1s" and "1d", got "2d"'),
    ('[sync]\nsince = "2024-13-01"', '11: sync.since: expected a date like 2024-01-31, got "2024-13-01"'),
    ('[sync]\nintervall = "5m"', '11: sync.intervall: unknown key "intervall"; did you mean "interval"?'),
    ('[synk]\ninterval = "5m"', '10: synk: unknown table "synk"; did you mean "sync"?'),
    ("[statuses]\nopen = []", "11: statuses.open: must not be empty"),
    ('[invoice]\npayment_methods = [\n  "bacs",\n  3,\n]',
     "13: invoice.payment_methods: expected a list of non-empty strings, got 3 in it"),
    ('[statuses]\npaid = [\n  "processing",\n  "on-hold",  # ]\n]',
     '13: statuses.paid: "on-hold" is also in WooCommerce\'s default statuses.open; set statuses.open without it'),
    ('[http]\nca_bundle = "/nonexistent/ca.pem"', '11: http.ca_bundle: file not found: "/nonexistent/ca.pem"'),
    ('[http]\n"timeout" = """\n1m\n"""\nmax_backoff = "1h"',
     '14: http.max_backoff: must be between "1s" and "10m", got "1h"'),
]


@pytest.mark.parametrize(("appended", "expected"), APPENDED)
def test_a_wrong_value_is_reported_with_file_line_and_key(tmp_path: Path, appended: str, expected: str) -> None:
    """Each kind of mistake in an optional table names file, line, dotted key and what was wrong."""
    write(tmp_path, "shops/acme.toml", SHOP + appended + "\n")
    assert problems(tmp_path) == [f"shops/acme.toml:{expected}"]


REPLACED = [  # (text in SHOP, its replacement, the one problem expected)
    ('"woocommerce"', '"Woo Commerce"', '3: shop.kind: expected a shop kind ("woocommerce" or "shopware6"), '
                                        'got "Woo Commerce"'),
    ('"Europe/Berlin"', '"Europe/Berln"',
     '5: shop.timezone: unknown timezone "Europe/Berln"; did you mean "Europe/Berlin"?'),
    ('"https://shop.example.com/"', '"http://shop.example.com"',
     '4: shop.url: must start with https:// unless the host is loopback or shop.allow_insecure_http = true '
     '(got "http://shop.example.com")'),
    ('"https://shop.example.com/"', '"shop.example.com"',
     '4: shop.url: expected a URL like "https://shop.example.com", got "shop.example.com"'),
    ('id = "acme"', 'id = "Acme Shop"',
     '2: shop.id: expected an id of a-z, 0-9, "-", "_" (at most 40) like "acme", got "Acme Shop"'),
    ('id = "acme"', 'id = "acme"\nallow_insecure_http = "yes"',
     '3: shop.allow_insecure_http: expected true or false, got "yes"'),
    ('id = "acme"\n', "", "1: shop.id: missing required key"),
    ('consumer_secret = "${ACME_WC_SECRET}"\n', "",
     "7: shop.auth.consumer_secret: missing required key (or consumer_secret_file)"),
    ('"https://shop.example.com/"', '"http://[::1"',
     '4: shop.url: expected a URL like "https://shop.example.com", got "http://[::1"'),
    ('[shop.auth]\nconsumer_key = "${ACME_WC_KEY}"\nconsumer_secret = "${ACME_WC_SECRET}"', 'auth = "ck_live_4711"',
     "7: shop.auth: expected a table, got a string"),
    ('[shop.auth]\nconsumer_key = "${ACME_WC_KEY}"\nconsumer_secret = "${ACME_WC_SECRET}"\n', "",
     "1: shop.auth.consumer_key: missing required key (or consumer_key_file)"),  # no [shop.auth]: at [shop]
    ("consumer_key =", "consumer_keys =",
     '8: shop.auth.consumer_keys: unknown key "consumer_keys"; did you mean "consumer_key"?'),
]


@pytest.mark.parametrize(("old", "new", "expected"), REPLACED)
def test_a_wrong_shop_key_is_reported_with_file_line_and_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """Mistakes in [shop] and [shop.auth] name file, line, dotted key and what was wrong."""
    write(tmp_path, "shops/acme.toml", SHOP.replace(old, new))
    assert f"shops/acme.toml:{expected}" in problems(tmp_path)


@pytest.mark.parametrize(("prepended", "expected"), [
    ('sync.interval = "often"', '1: sync.interval: expected a duration like "5m", got "often"'),
    ('http = { timeout = "1s", max_attempts = 0 }', "1: http.max_attempts: must be between 1 and 20, got 0"),
    ('invoice.payment_methods = [\n  "bacs",\n  "",\n]',
     '3: invoice.payment_methods: expected a list of non-empty strings, got "" in it'),
])
def test_top_level_dotted_keys_and_inline_tables_are_located(tmp_path: Path, prepended: str, expected: str) -> None:
    """Keys written as `table.key = ...` or `table = { key = ... }` above [shop] are found at their line."""
    write(tmp_path, "shops/acme.toml", prepended + "\n" + SHOP)
    assert problems(tmp_path) == [f"shops/acme.toml:{expected}"]


def test_missing_shop_table_reports_its_keys_without_a_line(tmp_path: Path) -> None:
    """A shop file without [shop] lists each required key, with no line to point at."""
    write(tmp_path, "shops/acme.toml", '[sync]\ninterval = "5m"\n')
    assert problems(tmp_path) == [f"shops/acme.toml: shop.{key}: missing required key"
                                  for key in ("id", "kind", "url", "timezone")]


def test_toml_syntax_error_is_one_problem_with_its_line(tmp_path: Path) -> None:
    """A file tomllib cannot parse gives one problem at the line tomllib names."""
    write(tmp_path, "shops/acme.toml", SHOP + "[sync]\npage_size = \n")
    assert problems(tmp_path) == ["shops/acme.toml:11: invalid TOML: Invalid value (column 13)"]


def test_all_problems_in_all_files_are_reported_at_once(tmp_path: Path) -> None:
    """Three mistakes in a shop file and one in mahnwerk.toml give four problems, top of each file down."""
    write(tmp_path, "mahnwerk.toml", '[logging]\nlevel = "verbose"\n')
    write(tmp_path, "shops/acme.toml", SHOP.replace('"Europe/Berlin"', '"Europe/Berln"')
          + '[sync]\npage_size = 0\n[http]\ntimout = "5s"\n')
    assert problems(tmp_path) == [
        'mahnwerk.toml:2: logging.level: expected one of "debug", "info", "warning", "error", got "verbose"',
        'shops/acme.toml:5: shop.timezone: unknown timezone "Europe/Berln"; did you mean "Europe/Berlin"?',
        "shops/acme.toml:11: sync.page_size: must be between 1 and 10000, got 0",
        'shops/acme.toml:13: http.timout: unknown key "timout"; did you mean "timeout"?',
    ]


def test_shopware_shop_needs_client_credentials(tmp_path: Path) -> None:
    """A shopware6 shop reads client_id and client_secret, and rejects WooCommerce's key names."""
    write(tmp_path, "shops/sw.toml", SHOP.replace('"woocommerce"', '"shopware6"'))
    assert problems(tmp_path) == [
        'shops/sw.toml:7: shop.auth.client_id: missing required key (or client_id_file)',
        'shops/sw.toml:7: shop.auth.client_secret: missing required key (or client_secret_file)',
        'shops/sw.toml:8: shop.auth.consumer_key: unknown key "consumer_key"',
        'shops/sw.toml:9: shop.auth.consumer_secret: unknown key "consumer_secret"; did you mean "client_secret"?',
    ]
    write(tmp_path, "shops/sw.toml", SHOP.replace('"woocommerce"', '"shopware6"').replace("consumer_", "client_")
          .replace("client_key", "client_id"))
    assert load(tmp_path).shops[0].auth == ShopAuth({"client_id": Secret("ck_live_4711"),
                                                     "client_secret": Secret("cs_live_0815")})


def test_secret_may_combine_several_environment_variables(tmp_path: Path) -> None:
    """Each ${VAR} in a secret is replaced, wherever it stands."""
    write(tmp_path, "shops/acme.toml", SHOP.replace("${ACME_WC_KEY}", "ck_${A}_${B}"))
    secret = load(tmp_path, {**ENV, "A": "live", "B": "4711"}).shops[0].auth.secrets["consumer_key"]
    assert secret.reveal() == "ck_live_4711" and secret.source == "env A, B"


def test_secret_file_is_read_relative_to_the_config_dir_without_trailing_newline(tmp_path: Path) -> None:
    """consumer_secret_file reads the file; a relative path starts at the config dir."""
    write(tmp_path, "secrets/acme-secret", "cs_from_file\n")
    write(tmp_path, "shops/acme.toml", SHOP.replace('consumer_secret = "${ACME_WC_SECRET}"',
                                                    'consumer_secret_file = "secrets/acme-secret"'))
    secret = load(tmp_path).shops[0].auth.secrets["consumer_secret"]
    assert secret.reveal() == "cs_from_file" and secret.source == f"file {tmp_path / 'secrets/acme-secret'}"


def test_secret_file_path_may_use_environment_variables(tmp_path: Path) -> None:
    """An absolute _file path with ${CREDENTIALS_DIRECTORY}, as systemd's LoadCredential= sets it."""
    write(tmp_path, "creds/key", "ck_systemd")
    write(tmp_path, "shops/acme.toml", SHOP.replace('consumer_key = "${ACME_WC_KEY}"',
                                                    'consumer_key_file = "${CREDENTIALS_DIRECTORY}/key"'))
    config = load(tmp_path, {**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    assert config.shops[0].auth.secrets["consumer_key"].reveal() == "ck_systemd"


@pytest.mark.parametrize(("key_line", "expected"), [
    ('consumer_key = ""', "8: shop.auth.consumer_key: must not be empty"),
    ('consumer_key = "x"\nconsumer_key_file = "empty"',
     "8: shop.auth.consumer_key: give either consumer_key or consumer_key_file, not both"),
])
def test_unusable_secret_is_reported_by_key_variable_or_path(tmp_path: Path, key_line: str, expected: str) -> None:
    """A secret that cannot be resolved names the key and the variable or file, never a value."""
    write(tmp_path, "empty", "\n")
    write(tmp_path, "shops/acme.toml", SHOP.replace('consumer_key = "${ACME_WC_KEY}"', key_line))
    assert problems(tmp_path, {"ACME_WC_SECRET": "cs_live_0815"}) == [
        "shops/acme.toml:" + expected.format(dir=tmp_path)]


@pytest.mark.parametrize(("key_line", "expected"), [
    ('consumer_key = "${ACME_WC_KEY}"', "8: shop.auth.consumer_key: environment variable ACME_WC_KEY is not set"),
    ('consumer_key_file = "nokey"',
     '8: shop.auth.consumer_key_file: cannot read "{dir}/nokey": No such file or directory'),
    ('consumer_key_file = "empty"', '8: shop.auth.consumer_key_file: "{dir}/empty" is empty'),
])
def test_a_secret_that_cannot_be_read_now_fails_only_what_needs_it(tmp_path: Path, key_line: str,
                                                                  expected: str) -> None:
    """An unset variable or a missing file does not stop the configuration from loading (`claims` and `plan` need
    no shop secret); revealing the secret raises the problem with file, line and key, and `check` lists it."""
    write(tmp_path, "empty", "\n")
    write(tmp_path, "shops/acme.toml", SHOP.replace('consumer_key = "${ACME_WC_KEY}"', key_line))
    shop = load(tmp_path, {"ACME_WC_SECRET": "cs_live_0815"}).shops[0]
    assert [str(p) for p in unresolved_secrets(shop)] == ["shops/acme.toml:" + expected.format(dir=tmp_path)]
    with pytest.raises(ConfigError) as caught:
        shop.auth.revealed()
    assert str(caught.value) == "shops/acme.toml:" + expected.format(dir=tmp_path)


def test_secret_values_never_appear_in_errors_or_reprs(tmp_path: Path) -> None:
    """Secrets and database passwords stay out of repr(config) and str(ConfigError)."""
    write(tmp_path, "mahnwerk.toml", '[database]\nurl = "postgresql+psycopg://mw:${PGPASS}@db/mw"\n')
    write(tmp_path, "shops/acme.toml", SHOP)
    env = {**ENV, "PGPASS": "hunter2"}
    shown = repr(load(tmp_path, env)) + str(load(tmp_path, env))
    write(tmp_path, "mahnwerk.toml", '[database]\nurl = "mysql://mw:${PGPASS}@db/mw"\n')
    write(tmp_path, "shops/acme.toml", SHOP.replace("${ACME_WC_SECRET}", "cs_literal_9999")
          .replace('"Europe/Berlin"', "12345") + '[shop.auth.extra]\n')
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env)
    shown += str(caught.value) + repr(caught.value.problems)
    assert "mw:***@db" in str(caught.value)
    for value in ("ck_live_4711", "cs_live_0815", "hunter2", "cs_literal_9999"):
        assert value not in shown
    assert "ShopAuth(consumer_key=***, consumer_secret=***)" in shown


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.1.2.3/shop", "http://localhost",
                                 "http://[::1]:8080/"])
def test_plain_http_is_allowed_for_loopback_hosts(tmp_path: Path, url: str) -> None:
    """http:// is fine when the shop runs on the same machine."""
    write(tmp_path, "shops/acme.toml", SHOP.replace("https://shop.example.com/", url))
    assert load(tmp_path).shops[0].url == url.rstrip("/")


def test_plain_http_is_allowed_with_allow_insecure_http(tmp_path: Path) -> None:
    """allow_insecure_http = true lets a merchant use http:// on purpose."""
    write(tmp_path, "shops/acme.toml", SHOP.replace("https://shop.example.com/", "http://shop.intranet")
          .replace('id = "acme"', 'id = "acme"\nallow_insecure_http = true'))
    assert load(tmp_path).shops[0].url == "http://shop.intranet"


def test_duplicate_shop_ids_name_both_files(tmp_path: Path) -> None:
    """Two files with one shop id: the later file is blamed and the earlier one named."""
    write(tmp_path, "shops/acme.toml", "# the original\n" + SHOP)
    write(tmp_path, "shops/acme-copy.toml", SHOP)  # sorts first: "-" < "."
    write(tmp_path, "shops/zebra.toml", SHOP)
    assert problems(tmp_path) == [
        'shops/acme.toml:3: shop.id: shop id "acme" is already used by shops/acme-copy.toml',
        'shops/zebra.toml:2: shop.id: shop id "acme" is already used by shops/acme-copy.toml',
    ]


def test_shops_are_loaded_in_file_name_order(tmp_path: Path) -> None:
    """shops/*.toml are read sorted by name; other files are ignored."""
    for name in ("b", "a", "c"):
        write(tmp_path, f"shops/{name}.toml", SHOP.replace('"acme"', f'"shop-{name}"'))
    write(tmp_path, "shops/notes.txt", "not a shop")
    assert [shop.id for shop in load(tmp_path).shops] == ["shop-a", "shop-b", "shop-c"]


def test_missing_config_dir_is_an_error_that_says_how_to_fix_it(tmp_path: Path) -> None:
    """A config dir that does not exist names the path and how to create it or point elsewhere."""
    (problem,) = problems(tmp_path / "nowhere")
    assert problem.startswith(f"{tmp_path / 'nowhere'}: configuration directory not found")
    assert "shops/" in problem and "--config-dir" in problem


def test_config_dir_without_shops_is_a_config_without_shops(tmp_path: Path) -> None:
    """An empty config dir is valid: no shops, defaults for the rest."""
    assert load(tmp_path) == Config(tmp_path, DatabaseConfig(), LoggingConfig(), ())


def test_unknown_shop_id_suggests_the_closest(tmp_path: Path) -> None:
    """Config.shop names a close match, or the shops there are."""
    write(tmp_path, "shops/acme.toml", SHOP)
    config = load(tmp_path)
    with pytest.raises(ConfigError, match='unknown shop "acmee"; did you mean "acme"?'):
        config.shop("acmee")
    with pytest.raises(ConfigError, match='unknown shop "zzz"; configured: acme'):
        config.shop("zzz")


def example_parts() -> dict[str, str]:
    """The example split at its "# --- <file> ---" markers: file name -> text."""
    parts = re.split(r"^# --- (\S+) ---$", EXAMPLE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_example_config_loads_and_shows_the_defaults(tmp_path: Path) -> None:
    """Each part of config.example.toml loads as a real file, and the values it writes out are the defaults."""
    parts = example_parts()
    assert list(parts) == ["mahnwerk.toml", "shops/acme.toml"]
    for name, text in parts.items():
        write(tmp_path, name, text)
    config = load(tmp_path)
    shop = config.shop("acme")
    assert (config.database, config.logging) == (DatabaseConfig(), LoggingConfig())
    assert (shop.invoice, shop.statuses, shop.sync, shop.http) == (
        InvoiceConfig(payment_methods=WOOCOMMERCE.default_invoice_methods), StatusMapping().for_kind(WOOCOMMERCE),
        SyncConfig(page_size=WOOCOMMERCE.max_page_size), HttpConfig())
    assert shop.auth == ShopAuth({"consumer_key": Secret("ck_live_4711"), "consumer_secret": Secret("cs_live_0815")})
    assert (shop.delivery, shop.smtp, shop.letters, shop.agency) == (
        DeliveryConfig(), SmtpConfig(), LettersConfig(), AgencyConfig())
    assert shop.merchant.iban == "DE89370400440532013000" and missing_for_sending(shop.merchant) == []
    # complete, but made up: nothing may be sent with it (`check` and `run` refuse, naming each key)
    assert [v.split(" ")[0] for v in example_values(shop.merchant)] == ["name", "iban", "email"]


def test_example_config_keeps_the_lines_of_the_product_spec() -> None:
    """The lines the product spec quotes stand in the example word for word."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for line in ['[database]', 'url = "sqlite:////var/lib/mahnwerk/mahnwerk.db"   # or postgresql+psycopg://...',
                 '[shop]', 'id = "acme"', 'kind = "woocommerce"            # or "shopware6"',
                 'url = "https://shop.example.com"', 'timezone = "Europe/Berlin"', '[shop.auth]',
                 'consumer_key = "${ACME_WC_KEY}"     # ${VAR} reads the environment; '
                 'consumer_key_file = "/run/credentials/..." reads a file',
                 'consumer_secret = "${ACME_WC_SECRET}"']:
        assert line in lines


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h30m", timedelta(hours=1, minutes=30)),
    ("1h 30m", timedelta(hours=1, minutes=30)), ("2d", timedelta(days=2)), ("90s", timedelta(seconds=90)),
    ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)), (" 6h ", timedelta(hours=6)),
])
def test_parse_duration_reads_days_hours_minutes_seconds(text: str, expected: timedelta) -> None:
    """Durations are numbers with d, h, m, s units, largest first."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "often", "5 m", "1.5h", "30m1h", "1h1h", "-5m", "5min"])
def test_parse_duration_rejects_anything_else(text: str) -> None:
    """No bare numbers, fractions, signs, repeats, units out of order or spelled out."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_status_mapping_says_what_a_status_means() -> None:
    """Each listed status has its list's meaning; others have none."""
    statuses = StatusMapping().for_kind(WOOCOMMERCE)
    assert [statuses.meaning(s) for s in ("on-hold", "completed", "failed", "refunded", "pending")] == [
        "open", "paid", "cancelled", "refunded", None]


def test_secret_hides_its_value() -> None:
    """repr and str show ***; equality, hash and truth use the value."""
    secret = Secret("s3cr3t", source="env X")
    assert (repr(secret), str(secret), f"{secret}") == ("Secret('***')", "***", "***")
    assert secret == Secret("s3cr3t") and hash(secret) == hash(Secret("s3cr3t")) and secret != Secret("other")
    assert secret.reveal() == "s3cr3t" and bool(secret) and not Secret("")


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+psycopg://u:pw@h/db", "postgresql+psycopg://u:***@h/db"),
    ("postgresql://u:p@ss@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("sqlite:////var/lib/mahnwerk/mahnwerk.db", "sqlite:////var/lib/mahnwerk/mahnwerk.db"),
])
def test_mask_url_hides_only_the_password(url: str, expected: str) -> None:
    """The user, host and database stay readable."""
    assert mask_url(url) == expected


def test_key_lines_finds_keys_in_every_toml_form() -> None:
    """Headers, dotted and quoted keys, inline tables, arrays and multi-line strings are located."""
    text = ('a = """\n[not.a.table]\n"""\n'   # 1-3
            '[t]  # [comment]\n'              # 4
            '"q.k" = 1\n'                     # 5
            'd.e = { f = [1,\n  2] }\n'       # 6-7
            "[[s]]\nx = 'say \"hi\"'\n[[s]]\n"  # 8-10
            "[s.sub]\ny = 1\n")               # 11-12
    tomllib.loads(text)  # the locator only ever sees valid TOML
    found = {format_key(path): line for path, line in key_lines(text).items()}
    assert found == {"a": 1, "t": 4, "t.q.k": 5, "t.d": 6, "t.d.e": 6, "t.d.e.f": 6, "t.d.e.f[0]": 6,
                     "t.d.e.f[1]": 7, "s": 8, "s[0]": 8, "s[0].x": 9, "s[1]": 10, "s[1].sub": 11,
                     "s[1].sub.y": 12}


def paths(doc: dict, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a parsed TOML document."""
    found = []
    for key, value in doc.items():
        found.append(prefix + (key,))
        found += paths(value, prefix + (key,)) if isinstance(value, dict) else []
    return found


@pytest.mark.parametrize("name", ["mahnwerk.toml", "shops/acme.toml"])
def test_key_lines_finds_every_key_of_the_example(name: str) -> None:
    """Each key tomllib reads from the example is located on a line that names it."""
    text = example_parts()[name]
    lines, source = key_lines(text), text.splitlines()
    for path in paths(tomllib.loads(text)):
        assert str(path[-1]) in source[lines[path] - 1]


@pytest.mark.parametrize(("table", "text", "expected"), [
    ("merchant", 'iban = "DE89 3704 0044 0532 0130 01"', "merchant.iban: not a valid IBAN"),
    ("merchant", 'bic = "NOTABIC"', "merchant.bic: not a valid BIC"),
    ("merchant", 'email = "buchhaltung"', "merchant.email: expected an e-mail address"),
    ("delivery", "messages_per_minute = 0", "delivery.messages_per_minute: must be between 1 and 600"),
    ("delivery", 'run_at = "9am"', 'delivery.run_at: expected a time of day like "09:00"'),
    ("smtp", 'host = "smtp.example.com"', "smtp.sender: missing"),
    ("smtp", 'host = "smtp.example.com"\nsender = "a@b.example"\nsecurity = "none"', 'smtp.security: "none"'),
    ("agency", 'columns = ["claim", "shoe_size"]', 'agency.columns: unknown column "shoe_size"'),
    ("agency", 'format = "xlsx"', "agency.format: expected one of"),
])
def test_delivery_tables_name_the_bad_key_and_line(tmp_path: Path, table: str, text: str, expected: str) -> None:
    """[merchant], [delivery], [smtp] and [agency] mistakes are reported with file, line and key."""
    write(tmp_path, "shops/acme.toml", SHOP + f"\n[{table}]\n{text}\n")
    [problem] = problems(tmp_path)
    assert problem.startswith("shops/acme.toml:") and expected in problem, problem


def test_payments_table_defaults_and_provider_keys(tmp_path: Path) -> None:
    """[payments] is optional; provider keys are secrets like the shop's and are checked for their kind."""
    write(tmp_path, "shops/acme.toml", SHOP + '[payments]\ninbox = "inbox"\n[payments.stripe]\n'
          'api_key = "${STRIPE}"\n[payments.mollie]\napi_key = "test_abc"\n')
    shop = load(tmp_path, ENV | {"STRIPE": "rk_live_1"}).shop("acme")
    assert shop.payments.min_confidence == Decimal("0.75") and shop.payments.inbox == tmp_path / "inbox"
    assert shop.payments.stripe.api_key.reveal() == "rk_live_1" and "rk_live_1" not in repr(shop.payments)
    assert shop.payments.paid_status == "processing" and shop.payments.mark_paid


def test_payments_mistakes_name_line_and_key(tmp_path: Path) -> None:
    write(tmp_path, "shops/acme.toml", SHOP + '[payments]\nmin_confidence = 2\n[payments.stripe]\n'
          'api_key = "pk_live_1"\n[payments.molie]\n')
    found = problems(tmp_path)
    assert "shops/acme.toml:11: payments.min_confidence: expected a number from 0 to 1 like 0.75, got 2" in found
    assert ("shops/acme.toml:13: payments.stripe.api_key: expected a Stripe secret or restricted key "
            "(starting sk_ or rk_)") in found
    assert any('payments.molie: unknown table "molie"; did you mean "mollie"?' in p for p in found)


def test_daemon_workers_and_a_test_shops_short_interval(tmp_path: Path) -> None:
    """`[daemon] workers` sizes the daemon's pool (8 unless set, 1..64); a sync.interval below 30s loads (a test
    shop) with a warning naming the line."""
    write(tmp_path, "shops/acme.toml", SHOP + '[sync]\ninterval = "4s"\n')
    config = load(tmp_path)
    assert config.daemon.workers == 8 and config.shops[0].sync.interval == timedelta(seconds=4)
    assert [str(w) for w in config.warnings] == [
        "shops/acme.toml:11: sync.interval: polls the shop every 4 s: fine for a test shop, a load on a live one "
        "(30s or more)"]
    write(tmp_path, "mahnwerk.toml", "[daemon]\nworkers = 32\n")
    assert load(tmp_path).daemon.workers == 32
    write(tmp_path, "mahnwerk.toml", "[daemon]\nworkers = 0\n")
    assert problems(tmp_path) == ["mahnwerk.toml:2: daemon.workers: must be between 1 and 64, got 0"]
