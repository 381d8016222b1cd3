from prometheus_client import Counter, Gauge

from shared.metrics import registry

consultations = Counter(
    "cityline_knowledge_consultations",
    "Consultations given from the knowledge base, by category, channel and who gave them (operator, channel, "
    "automatic); the deflection share is this counter's rate over itself plus information-request appeals",
    ["category", "channel", "given_by"],
    registry=registry,
)
answer_requests = Counter(
    "cityline_knowledge_answer_requests",
    "Questions asked of the knowledge base, by outcome: answered (at least one article) or empty",
    ["outcome"],
    registry=registry,
)
articles_reloads = Counter(
    "cityline_knowledge_articles_reloads",
    "Changes of the articles folder seen while running: reloaded, or refused (an invalid file; the last good index "
    "stays)",
    ["outcome"],
    registry=registry,
)
articles_refused = Gauge(
    "cityline_knowledge_articles_refused",
    "1 while the articles folder holds an invalid file and an older index is in force",
    registry=registry,
)
articles_indexed = Gauge("cityline_knowledge_articles", "Articles in the index in force", registry=registry)
automatic_answers = Counter(
    "cityline_knowledge_automatic_answers",
    "Information requests from web and app channels: answered with an article and closed, or referred to the "
    "operators (no article clearly good enough)",
    ["outcome"],
    registry=registry,
)
not_helped = Counter(
    "cityline_knowledge_not_helped",
    "Automatic answers the resident said did not help (the appeal went to the operators), by category; the share is "
    'this over cityline_knowledge_automatic_answers{outcome="answered"}',
    ["category"],
    registry=registry,
)
