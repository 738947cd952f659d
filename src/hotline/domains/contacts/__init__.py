"""Contacts: every call, chat, email, SMS, social message and work item, from arrival to the
end of its wrap-up, with its append-only history (R-A3, R-A7, R-B2). Live routing decisions
come from the routing engine (`hotline.domains.routing`); this domain is their durable record."""
