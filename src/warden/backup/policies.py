"""``vaults/{vault}/backupPolicies/{name}``: MAB-style policies for files and folders of a machine.

The shape is Azure's ``MabProtectionPolicy``: ``backupManagementType: "MAB"``, a
``SimpleSchedulePolicy`` (``scheduleRunFrequency`` Daily or Weekly, ``scheduleRunDays`` for
weekly, ``scheduleRunTimes`` as date-times of which only the time of day counts, at most three a
day on the hour or half hour, as the MARS agent allows) and a ``LongTermRetentionPolicy`` with
daily/weekly/monthly/yearly schedules of ``retentionDuration {count, durationType}``. Warden adds
an optional ``timeZone`` (IANA name, default UTC) in which the run times are read.

Validation follows Azure's limits: daily 1-9999 days, weekly 1-5163 weeks, monthly 1-1188
months, yearly 1-99 years, and at most 9,999 recovery points per item in total. Lowering a
retention needs the resource guard's approval on an MUA vault and is refused on an immutable one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId, validate_name
from warden.kernel.reply import Reply
from warden.kernel.resources import delete_tree, get_row, require_object, resource_json, save_resource
from warden.kernel.schema import resources

from .retention import RetentionRules

POLICY_TYPE = "Microsoft.RecoveryServices/vaults/backupPolicies"
ITEM_TYPE_KEY = "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/protecteditems"
MAX_POINTS = 9999
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
TIERS = {  # schedule key -> (durationType, maximum count)
    "dailySchedule": ("Days", 9999),
    "weeklySchedule": ("Weeks", 5163),
    "monthlySchedule": ("Months", 1188),
    "yearlySchedule": ("Years", 99),
}


def invalid(message: str, target: str) -> BadRequest:
    return BadRequest(message, code="BMSUserErrorInvalidPolicyInput", target=target)


@dataclass(frozen=True)
class Schedule:
    """When a policy runs: local times of day, weekdays (0 = Monday; empty = every day), time zone."""

    times: tuple[time, ...]
    days: frozenset[int]
    time_zone: str


def _run_times(raw: Any) -> list[time]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 3:
        raise invalid("scheduleRunTimes must list one to three times.", "properties.schedulePolicy.scheduleRunTimes")
    times = []
    for value in raw:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"'{value}' is not a date-time.", "properties.schedulePolicy.scheduleRunTimes") from None
        if moment.minute not in (0, 30) or moment.second or moment.microsecond:
            raise invalid(
                f"The run time '{value}' must be on the hour or half hour.",
                "properties.schedulePolicy.scheduleRunTimes",
            )
        times.append(moment.time().replace(tzinfo=None))
    if len(set(times)) != len(times):
        raise invalid("scheduleRunTimes must not repeat a time.", "properties.schedulePolicy.scheduleRunTimes")
    return sorted(times)


def _day_list(raw: Any, target: str, names: tuple[str, ...]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or any(not isinstance(d, str) or d.capitalize() not in names for d in raw):
        raise invalid(f"{target.rsplit('.', 1)[-1]} must list names from {', '.join(names)}.", target)
    return [d.capitalize() for d in raw]


def validate_policy(body: Any) -> tuple[dict[str, Any], Schedule, RetentionRules]:
    """Return (properties to store, schedule, retention rules) of a policy request; raise BadRequest."""
    properties = require_object(require_object(body).get("properties"))
    if properties.get("backupManagementType") != "MAB":
        raise invalid(
            "backupManagementType must be 'MAB' (files and folders of a machine).", "properties.backupManagementType"
        )
    schedule = require_object(properties.get("schedulePolicy"))
    if schedule.get("schedulePolicyType") != "SimpleSchedulePolicy":
        raise invalid(
            "schedulePolicyType must be 'SimpleSchedulePolicy'.", "properties.schedulePolicy.schedulePolicyType"
        )
    frequency = schedule.get("scheduleRunFrequency")
    if frequency not in ("Daily", "Weekly"):
        raise invalid(
            "scheduleRunFrequency must be 'Daily' or 'Weekly'.", "properties.schedulePolicy.scheduleRunFrequency"
        )
    times = _run_times(schedule.get("scheduleRunTimes"))
    run_days = _day_list(schedule.get("scheduleRunDays"), "properties.schedulePolicy.scheduleRunDays", DAYS)
    if frequency == "Weekly" and not run_days:
        raise invalid("A weekly schedule needs scheduleRunDays.", "properties.schedulePolicy.scheduleRunDays")
    if frequency == "Daily":
        run_days = []
    zone = properties.get("timeZone") or "UTC"
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(
            f"The time zone '{zone}' is unknown (use an IANA name such as 'Europe/Paris').", "properties.timeZone"
        ) from None
    retention = require_object(properties.get("retentionPolicy"))
    if retention.get("retentionPolicyType") != "LongTermRetentionPolicy":
        raise invalid(
            "retentionPolicyType must be 'LongTermRetentionPolicy'.", "properties.retentionPolicy.retentionPolicyType"
        )
    counts: dict[str, int] = {}
    stored_retention: dict[str, Any] = {"retentionPolicyType": "LongTermRetentionPolicy"}
    for tier, (unit, maximum) in TIERS.items():
        entry = retention.get(tier)
        if entry is None:
            continue
        target = f"properties.retentionPolicy.{tier}"
        entry = require_object(entry)
        duration = require_object(entry.get("retentionDuration"))
        count = duration.get("count")
        if duration.get("durationType") != unit:
            raise invalid(
                f"{tier} needs retentionDuration.durationType '{unit}'.", f"{target}.retentionDuration.durationType"
            )
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= maximum:
            raise invalid(
                f"{tier} retention must be 1 to {maximum} {unit.lower()}.", f"{target}.retentionDuration.count"
            )
        counts[tier] = count
        stored = {
            **entry,
            "retentionTimes": schedule["scheduleRunTimes"],
            "retentionDuration": {"count": count, "durationType": unit},
        }
        if tier == "weeklySchedule":
            stored["daysOfTheWeek"] = (
                _day_list(entry.get("daysOfTheWeek"), f"{target}.daysOfTheWeek", DAYS) or run_days or ["Sunday"]
            )
        if tier == "yearlySchedule":
            stored["monthsOfYear"] = _day_list(entry.get("monthsOfYear"), f"{target}.monthsOfYear", MONTHS)
        stored_retention[tier] = stored
    if frequency == "Daily" and "dailySchedule" not in counts:
        raise invalid("A daily schedule needs a dailySchedule retention.", "properties.retentionPolicy.dailySchedule")
    if frequency == "Weekly" and "dailySchedule" in counts:
        raise invalid(
            "A weekly schedule cannot have a dailySchedule retention.", "properties.retentionPolicy.dailySchedule"
        )
    if not counts:
        raise invalid("The retention policy keeps nothing.", "properties.retentionPolicy")
    rules = RetentionRules(
        daily_days=counts.get("dailySchedule", 0),
        weekly_weeks=counts.get("weeklySchedule", 0),
        weekly_days=frozenset(
            DAYS.index(d) for d in stored_retention.get("weeklySchedule", {}).get("daysOfTheWeek", [])
        ),
        monthly_months=counts.get("monthlySchedule", 0),
        yearly_years=counts.get("yearlySchedule", 0),
        yearly_months=frozenset(
            MONTHS.index(m) + 1 for m in stored_retention.get("yearlySchedule", {}).get("monthsOfYear", [])
        ),
        time_zone=str(zone),
    )
    total = rules.max_points(len(times))
    if total > MAX_POINTS:
        raise BadRequest(
            f"The policy would keep up to {total} recovery points per item; the maximum is {MAX_POINTS}.",
            code="BMSUserErrorMaxRecoveryPointsExceeded",
            target="properties.retentionPolicy",
        )
    stored_properties = {
        "backupManagementType": "MAB",
        "schedulePolicy": {
            "schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": frequency,
            "scheduleRunDays": run_days,
            "scheduleRunTimes": schedule["scheduleRunTimes"],
            "scheduleWeeklyFrequency": 0,
        },
        "retentionPolicy": stored_retention,
        "timeZone": str(zone),
    }
    weekdays = frozenset(DAYS.index(d) for d in run_days)
    return stored_properties, Schedule(tuple(times), weekdays, str(zone)), rules


def policy_rules(properties: dict[str, Any]) -> tuple[Schedule, RetentionRules]:
    """Return the schedule and retention rules of stored policy properties."""
    _, schedule, rules = validate_policy({"properties": properties})
    return schedule, rules


def lowers_retention(old: RetentionRules, new: RetentionRules) -> bool:
    """Whether ``new`` keeps any tier for less time than ``old`` (or drops a tier)."""
    pairs = (
        (old.daily_days, new.daily_days),
        (old.weekly_weeks, new.weekly_weeks),
        (old.monthly_months, new.monthly_months),
        (old.yearly_years, new.yearly_years),
    )
    return any(after < before for before, after in pairs)


class PolicyHandler:
    """Stores policies as child resources of their vault."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if row is None:
            raise NotFound(f"The backup policy '{rid.name}' was not found.", code="BMSUserErrorPolicyNotFound")
        return Reply(200, self._json(ctx, row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        from .guards import require_mua
        from .vaults import is_immutable, vault_of

        assert ctx.conn is not None
        validate_name(rid.name, what="policy", max_length=150)
        vault = vault_of(ctx.conn, ctx.tenant_id, rid.parent)
        properties, _, rules = validate_policy(body)
        existing = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if existing is not None:
            _, old_rules = policy_rules(existing.body["properties"])
            if lowers_retention(old_rules, rules):
                if is_immutable(vault.body.get("properties", {})):
                    raise Conflict(
                        "The vault is immutable: retention of an existing policy cannot be reduced.",
                        code="UserErrorCannotReduceRetentionForImmutableVault",
                    )
                require_mua(ctx, rid.parent, "updateProtectionPolicyRequests")
        row = save_resource(
            ctx,
            resource_id=str(rid),
            name=rid.name,
            type_=POLICY_TYPE,
            parent=rid.parent,
            location=None,
            tags={},
            body={"properties": properties},
            existing=existing,
        )
        return Reply(200, self._json(ctx, row))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if row is None:
            return Reply(204)
        if _items_using(ctx, row.id):
            raise Conflict(
                "The policy is in use by protected items; stop their protection or move them to another policy first.",
                code="BMSUserErrorPolicyInUse",
            )
        delete_tree(ctx.conn, ctx.tenant_id, row.id)
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        assert ctx.conn is not None and parent is not None
        rows = ctx.conn.execute(
            select(resources)
            .where(
                resources.c.tenant_id == ctx.tenant_id,
                resources.c.parent_key == parent.key,
                resources.c.type_key == POLICY_TYPE.lower(),
            )
            .order_by(resources.c.key)
        )
        return [self._json(ctx, row) for row in rows]

    def _json(self, ctx: RequestContext, row: Any) -> dict[str, Any]:
        result = resource_json(row)
        result.pop("systemData", None)
        result.pop("tags", None)
        result["properties"] = {**result["properties"], "protectedItemsCount": len(_items_using(ctx, row.id))}
        return result


def _items_using(ctx: RequestContext, policy_id: str) -> list[Any]:
    from sqlalchemy import select

    assert ctx.conn is not None
    vault_key = policy_id.lower().rsplit("/backuppolicies/", 1)[0]
    rows = ctx.conn.execute(
        select(resources.c.body).where(
            resources.c.tenant_id == ctx.tenant_id,
            resources.c.type_key == ITEM_TYPE_KEY,
            resources.c.key.like(vault_key.replace("_", "\\_").replace("%", "\\%") + "/%", escape="\\"),
        )
    )
    return [
        r
        for r in rows
        if str(r.body.get("properties", {}).get("policyId", "")).lower() == policy_id.lower()
        and r.body.get("properties", {}).get("protectionState") == "Protected"
    ]
