"""French and English for the web pages: message tables, language choice, dates and error texts.

The French labels follow the provider's guide (the seed); keys are shared by both tables, and a
test checks that every key the templates use exists in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

LANGUAGES: Final = ("en", "fr")
DEFAULT_LANGUAGE: Final = "en"
LANGUAGE_NAMES: Final[Mapping[str, str]] = {"en": "English", "fr": "Français"}

Translate = Callable[..., str]

EN: Final[Mapping[str, str]] = {
    "app.skip": "Skip to content",
    "app.language": "Language",
    "app.times_in": "Times are shown in the account's time zone ({tz}).",
    "home.title": "Telephony",
    "home.intro": "Choose the account, then the fax line.",
    "home.account": "Account {name}",
    "home.no_lines": "This account has no fax line.",
    "line.kind.sandbox": "Sandbox (virtual fax network)",
    "line.kind.sip": "SIP trunk",
    "line.country": "Country",
    "line.ident": "Fax number shown (ident)",
    "line.header": "Page header",
    "line.channels": "Simultaneous calls",
    "line.kind": "Kind",
    "tab.general": "General",
    "tab.fax": "Fax",
    "tabs.label": "Line sections",
    "fax.title": "Fax",
    "fax.campaigns": "Fax campaigns",
    "fax.campaigns.hint": "Send one PDF to many fax numbers and follow every delivery.",
    "crumbs.label": "Breadcrumb",
    "campaigns.title": "Fax campaigns",
    "campaigns.new": "+ New campaign",
    "campaigns.caption": "Campaigns of line {line}",
    "campaigns.filter.state": "State",
    "campaigns.filter.all": "All states",
    "campaigns.filter.apply": "Filter",
    "campaigns.empty": (
        "No campaign yet. Click “+ New campaign” to fax a PDF to a list of numbers; "
        "it will then appear here, where you can launch it and follow it."
    ),
    "campaigns.empty_filtered": "No campaign in this state.",
    "campaigns.show_all": "Show all campaigns",
    "campaigns.live": "This table updates by itself while campaigns run.",
    "col.name": "Name",
    "col.reference": "Reference",
    "col.state": "State",
    "col.outcome": "Outcome",
    "col.schedule": "Schedule",
    "col.progress": "Progress",
    "col.actions": "Actions",
    "sort.by": "Sort by {column}",
    "progress.text": "{delivered} delivered, {failed} failed, {todo} to do, of {total}",
    "pager.label": "Pages of the table",
    "pager.previous": "Previous",
    "pager.next": "Next",
    "pager.position": "Page {page} of {pages} ({total} campaigns)",
    "schedule.manual": "Manual launch",
    "state.scheduled": "Scheduled",
    "state.waiting": "Waiting for launch",
    "state.running": "Running",
    "state.stopping": "Stopping",
    "state.finished": "Finished",
    "state.error": "Error",
    "outcome.n/a": "N/A",
    "outcome.success": "Success",
    "outcome.partial": "Partial success",
    "outcome.error": "Error",
    "menu.label": "Actions for campaign {name}",
    "menu.details": "Details",
    "menu.launch": "Launch the campaign",
    "menu.stop": "Stop the campaign",
    "menu.delete": "Delete",
    "notice.created": "Campaign {ref} created.",
    "notice.launched": "Campaign {ref} launched.",
    "notice.stopped": "Campaign {ref} stopped: it now waits for a manual launch.",
    "notice.deleted": "Campaign {ref} deleted.",
    "delete.title": "Delete the campaign?",
    "delete.text": (
        "Campaign “{name}” ({ref}) and its results will be removed from the history. "
        "This cannot be undone."
    ),
    "delete.confirm": "Delete",
    "delete.cancel": "Cancel",
    "new.title": "New campaign",
    "new.intro": "Fill in the fields, then click “Submit”. Nothing is created until all are valid.",
    "new.errors": "The campaign was not created: correct the fields marked below.",
    "field.name": "Campaign name",
    "field.name.hint": "A name to find this campaign easily in your history.",
    "field.document": "Document to fax (PDF format)",
    "field.document.hint": "A PDF of at most {pages} pages.",
    "field.file_again": "Choose the file again: browsers do not keep a chosen file after an error.",
    "field.quality": "Sending quality",
    "quality.normal": "Normal",
    "quality.high": "High",
    "quality.best": "Best",
    "field.quality.hint": "“Best” is advised for special or foreign numbers.",
    "field.send_type": "Sending type",
    "send_type.scheduled": "Scheduled",
    "send_type.manual": "Manual",
    "field.send_type.hint": (
        "Scheduled: the campaign starts at the date and time below. "
        "Manual: you launch it later from the table."
    ),
    "field.send_date": "Sending date",
    "field.send_time": "Sending time",
    "field.send_at.hint": "In the account's time zone ({tz}).",
    "field.recipients": "Recipients",
    "recipients.list": "Enter the recipients manually",
    "recipients.file": "Recipients file",
    "field.recipients_list": "Fax numbers",
    "field.recipients_file": "Recipients file (txt format)",
    "field.recipients.hint": (
        "Separate the numbers with a comma, a semicolon or a line break. Each has 6 to 17 "
        "digits, with or without spaces, and may start with a +."
    ),
    "new.submit": "Submit",
    "new.cancel": "Cancel",
    "preview.title": "Preview",
    "preview.hint": (
        "The pages as the recipient's machine will print them, at the chosen quality. "
        "Click a page to see it full size."
    ),
    "preview.choose": "Choose a PDF to see its pages here.",
    "preview.loading": "Preparing the preview…",
    "preview.shown": "{shown} of {count} pages shown.",
    "preview.all": "{count} pages.",
    "preview.page": "Page {page}",
    "preview.failed": "No preview: {message}",
    "detail.title": "Campaign {name}",
    "detail.summary": "Campaign",
    "detail.name": "Name",
    "detail.reference": "Reference",
    "detail.state": "State",
    "detail.outcome": "Outcome",
    "detail.schedule": "Schedule",
    "detail.quality": "Sending quality",
    "detail.pages": "Pages",
    "detail.created": "Created",
    "detail.started": "Start",
    "detail.ended": "End",
    "detail.error": "Why it could not run",
    "detail.counts": "Counts",
    "detail.total": "Recipients",
    "detail.delivered": "Delivered",
    "detail.failed": "Failed",
    "detail.todo": "To do",
    "detail.recipients": "Sending status",
    "detail.csv": "Download the results (CSV)",
    "detail.back": "Back to the campaigns",
    "detail.none": "—",
    "rcol.number": "Number",
    "rcol.result": "Result",
    "rcol.attempts": "Attempts",
    "attempt.delivered": "delivered",
    "attempt.failed": "not delivered",
    "attempt.pages": "pages {confirmed}/{total}",
    "rcol.reason": "Reason",
    "rcol.received": "Received pages",
    "received.link": "See the pages received",
    "received.link_label": "Pages received by {number}",
    "received.title": "Pages received by {number}",
    "received.intro": "What the sandbox fax machine received in attempt {attempt}: {pages} pages.",
    "received.back": "Back to the campaign",
    "recipient.pending": "To do",
    "recipient.in_call": "Calling",
    "recipient.delivered": "Delivered",
    "recipient.failed": "Failed",
    "recipients.pager": "Recipients {first} to {last} of {total}",
    "error.title": "Something is wrong",
    "error.not_found": "This page does not exist, or it belongs to another account.",
    "error.conflict": "This action is not possible in the campaign's current state.",
    "error.csrf": (
        "The form has expired or did not come from this site. Reload the page and try again."
    ),
    "error.back": "Back to the fax lines",
    "err.pdf_missing": "Choose the PDF document to fax.",
    "err.file_missing": "Choose the .txt file of recipients.",
    "err.choice": "Choose one of the options.",
    "err.date_missing": "Enter the sending date and time.",
    "err.date_invalid": "This is not a valid date and time.",
    "err.date_past": "The sending date {when} is in the past.",
    "err.numbers": "{count} invalid numbers; each one is listed below.",
    "err.number_one": "1 invalid number; it is listed below.",
    "err.number_at": "Line {line}, column {column}: “{text}”",
    "err.more": "… and {count} more.",
    "doc.not_pdf": "The document is not a PDF.",
    "doc.encrypted": "The PDF is protected by a password; send it without one.",
    "doc.corrupt": "The PDF is damaged and cannot be read.",
    "doc.empty": "The document is empty.",
    "doc.too_many_pages": "The PDF has too many pages (at most {pages}).",
    "doc.too_large": "The document is too large.",
    "doc.render_failed": "A page of the PDF could not be rendered.",
    "doc.bad_tiff": "The document could not be converted to fax pages.",
}

FR: Final[Mapping[str, str]] = {
    "app.skip": "Aller au contenu",
    "app.language": "Langue",
    "app.times_in": "Les heures sont celles du fuseau horaire du compte ({tz}).",
    "home.title": "Téléphonie",
    "home.intro": "Choisissez le groupe, puis la ligne Fax.",
    "home.account": "Groupe {name}",
    "home.no_lines": "Ce groupe n'a pas de ligne Fax.",
    "line.kind.sandbox": "Bac à sable (réseau fax virtuel)",
    "line.kind.sip": "Trunk SIP",
    "line.country": "Pays",
    "line.ident": "Numéro de fax présenté (ident)",
    "line.header": "En-tête des pages",
    "line.channels": "Appels simultanés",
    "line.kind": "Type",
    "tab.general": "Général",
    "tab.fax": "Fax",
    "tabs.label": "Sections de la ligne",
    "fax.title": "Fax",
    "fax.campaigns": "Campagnes de fax",
    "fax.campaigns.hint": (
        "Envoyez un même PDF à de nombreux numéros de fax et suivez chaque envoi."
    ),
    "crumbs.label": "Fil d'Ariane",
    "campaigns.title": "Campagnes de fax",
    "campaigns.new": "+ Nouvelle campagne",
    "campaigns.caption": "Campagnes de la ligne {line}",
    "campaigns.filter.state": "État",
    "campaigns.filter.all": "Tous les états",
    "campaigns.filter.apply": "Filtrer",
    "campaigns.empty": (
        "Aucune campagne pour le moment. Cliquez sur « + Nouvelle campagne » pour faxer un PDF "
        "à une liste de numéros ; elle apparaîtra ici, où vous pourrez la lancer et la suivre."
    ),
    "campaigns.empty_filtered": "Aucune campagne dans cet état.",
    "campaigns.show_all": "Afficher toutes les campagnes",
    "campaigns.live": "Ce tableau se met à jour tout seul pendant les campagnes.",
    "col.name": "Nom",
    "col.reference": "Référence",
    "col.state": "État",
    "col.outcome": "Statut",
    "col.schedule": "Planification",
    "col.progress": "Progression",
    "col.actions": "Actions",
    "sort.by": "Trier par {column}",
    "progress.text": "{delivered} envoyés, {failed} en échec, {todo} à faire, sur {total}",
    "pager.label": "Pages du tableau",
    "pager.previous": "Précédente",
    "pager.next": "Suivante",
    "pager.position": "Page {page} sur {pages} ({total} campagnes)",
    "schedule.manual": "Lancement manuel",
    "state.scheduled": "Programmée",
    "state.waiting": "En attente de lancement",
    "state.running": "En cours",
    "state.stopping": "Arrêt en cours",
    "state.finished": "Terminée",
    "state.error": "En erreur",
    "outcome.n/a": "N/A",
    "outcome.success": "Succès",
    "outcome.partial": "Succès partiel",
    "outcome.error": "En erreur",
    "menu.label": "Actions de la campagne {name}",
    "menu.details": "Détails",
    "menu.launch": "Lancer la campagne",
    "menu.stop": "Stopper la campagne",
    "menu.delete": "Supprimer",
    "notice.created": "Campagne {ref} créée.",
    "notice.launched": "Campagne {ref} lancée.",
    "notice.stopped": "Campagne {ref} stoppée : elle attend maintenant un lancement manuel.",
    "notice.deleted": "Campagne {ref} supprimée.",
    "delete.title": "Supprimer la campagne ?",
    "delete.text": (
        "La campagne « {name} » ({ref}) et ses résultats seront supprimés de l'historique. "
        "Cette action est définitive."
    ),
    "delete.confirm": "Supprimer",
    "delete.cancel": "Annuler",
    "new.title": "Nouvelle campagne",
    "new.intro": (
        "Complétez les champs, puis cliquez sur « Valider ». Rien n'est créé tant que tout "
        "n'est pas valide."
    ),
    "new.errors": "La campagne n'a pas été créée : corrigez les champs signalés ci-dessous.",
    "field.name": "Nom de la campagne",
    "field.name.hint": (
        "Un nom qui vous permettra de retrouver facilement cette campagne dans votre historique."
    ),
    "field.document": "Document à faxer (format pdf)",
    "field.document.hint": "Un PDF de {pages} pages au plus.",
    "field.file_again": (
        "Choisissez à nouveau le fichier : le navigateur ne le garde pas après une erreur."
    ),
    "field.quality": "Qualité d'envoi",
    "quality.normal": "Normale",
    "quality.high": "Haute",
    "quality.best": "Meilleure",
    "field.quality.hint": (
        "« Meilleure » est préconisée pour faciliter les envois vers les numéros spéciaux "
        "ou étrangers."
    ),
    "field.send_type": "Type d'envoi",
    "send_type.scheduled": "Programmé",
    "send_type.manual": "Manuel",
    "field.send_type.hint": (
        "Programmé : la campagne démarre à la date et à l'heure ci-dessous. "
        "Manuel : vous déclencherez l'envoi plus tard depuis le tableau."
    ),
    "field.send_date": "Date d'envoi",
    "field.send_time": "Heure d'envoi",
    "field.send_at.hint": "Dans le fuseau horaire du compte ({tz}).",
    "field.recipients": "Destinataires",
    "recipients.list": "Entrer les destinataires manuellement",
    "recipients.file": "Fichier de destinataires",
    "field.recipients_list": "Numéros de fax",
    "field.recipients_file": "Fichier de destinataires (format txt)",
    "field.recipients.hint": (
        "Les numéros doivent être séparés par une virgule, un point-virgule ou un retour à la "
        "ligne. Ils doivent contenir entre 6 et 17 chiffres, avec ou sans espaces, et peuvent "
        "commencer par un +."
    ),
    "new.submit": "Valider",
    "new.cancel": "Annuler",
    "preview.title": "Aperçu",
    "preview.hint": (
        "Les pages telles que le fax du destinataire les imprimera, à la qualité choisie. "
        "Cliquez sur une page pour la voir en taille réelle."
    ),
    "preview.choose": "Choisissez un PDF pour voir ses pages ici.",
    "preview.loading": "Préparation de l'aperçu…",
    "preview.shown": "{shown} pages affichées sur {count}.",
    "preview.all": "{count} pages.",
    "preview.page": "Page {page}",
    "preview.failed": "Pas d'aperçu : {message}",
    "detail.title": "Campagne {name}",
    "detail.summary": "Campagne",
    "detail.name": "Nom",
    "detail.reference": "Référence",
    "detail.state": "État",
    "detail.outcome": "Statut",
    "detail.schedule": "Planification",
    "detail.quality": "Qualité d'envoi",
    "detail.pages": "Pages",
    "detail.created": "Créée le",
    "detail.started": "Début",
    "detail.ended": "Fin",
    "detail.error": "Pourquoi elle n'a pas pu être réalisée",
    "detail.counts": "Compteurs",
    "detail.total": "Destinataires",
    "detail.delivered": "Envoyés",
    "detail.failed": "En échec",
    "detail.todo": "À faire",
    "detail.recipients": "Statut des envois",
    "detail.csv": "Télécharger les résultats (CSV)",
    "detail.back": "Retour aux campagnes",
    "detail.none": "—",
    "rcol.number": "Numéro",
    "rcol.result": "Résultat",
    "rcol.attempts": "Tentatives",
    "attempt.delivered": "remis",
    "attempt.failed": "non remis",
    "attempt.pages": "pages {confirmed}/{total}",
    "rcol.reason": "Motif",
    "rcol.received": "Pages reçues",
    "received.link": "Voir les pages reçues",
    "received.link_label": "Pages reçues par {number}",
    "received.title": "Pages reçues par {number}",
    "received.intro": (
        "Ce que le fax du bac à sable a reçu lors de la tentative {attempt} : {pages} pages."
    ),
    "received.back": "Retour à la campagne",
    "recipient.pending": "À faire",
    "recipient.in_call": "Appel en cours",
    "recipient.delivered": "Envoyé",
    "recipient.failed": "En échec",
    "recipients.pager": "Destinataires {first} à {last} sur {total}",
    "error.title": "Un problème est survenu",
    "error.not_found": "Cette page n'existe pas, ou elle appartient à un autre groupe.",
    "error.conflict": "Cette action n'est pas possible dans l'état actuel de la campagne.",
    "error.csrf": (
        "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et réessayez."
    ),
    "error.back": "Retour aux lignes Fax",
    "err.pdf_missing": "Choisissez le document PDF à faxer.",
    "err.file_missing": "Choisissez le fichier de destinataires au format txt.",
    "err.choice": "Choisissez l'une des options.",
    "err.date_missing": "Indiquez la date et l'heure d'envoi.",
    "err.date_invalid": "Cette date ou cette heure n'est pas valide.",
    "err.date_past": "La date d'envoi {when} est déjà passée.",
    "err.numbers": "{count} numéros invalides ; chacun est listé ci-dessous.",
    "err.number_one": "1 numéro invalide ; il est indiqué ci-dessous.",
    "err.number_at": "Ligne {line}, colonne {column} : « {text} »",
    "err.more": "… et {count} de plus.",
    "doc.not_pdf": "Le document n'est pas un PDF.",
    "doc.encrypted": "Le PDF est protégé par un mot de passe ; envoyez-le sans.",
    "doc.corrupt": "Le PDF est endommagé et ne peut pas être lu.",
    "doc.empty": "Le document est vide.",
    "doc.too_many_pages": "Le PDF a trop de pages ({pages} au plus).",
    "doc.too_large": "Le document est trop volumineux.",
    "doc.render_failed": "Une page du PDF n'a pas pu être rendue.",
    "doc.bad_tiff": "Le document n'a pas pu être converti en pages de fax.",
}

CATALOGS: Final[Mapping[str, Mapping[str, str]]] = {"en": EN, "fr": FR}

# Service messages are English; these patterns give the French of the common ones. Anything
# else is shown as it is, marked lang="en" so that a screen reader reads it right.
_FRENCH_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), french)
    for pattern, french in (
        (r"the campaign name is empty", "Le nom de la campagne est vide."),
        (
            r"the campaign name has (\d+) characters; at most (\d+) are allowed",
            r"Le nom de la campagne a \1 caractères ; \2 au plus sont permis.",
        ),
        (r"enter at least one fax number", "Entrez au moins un numéro de fax."),
        (r"the list has no numbers", "La liste ne contient aucun numéro."),
        (
            r"the list has (\d+) different numbers, at most (\d+) are allowed",
            r"La liste contient \1 numéros différents ; \2 au plus sont permis.",
        ),
        (r"'\+' is only allowed at the start", "le « + » n'est permis qu'au début"),
        (r"contains (.+), which is not a digit", r"contient \1, qui n'est pas un chiffre"),
        (r"contains (.+), write digits as 0 to 9", r"contient \1 : écrivez les chiffres de 0 à 9"),
        (
            r"has no digits, at least (\d+) are needed",
            r"n'a aucun chiffre ; il en faut au moins \1",
        ),
        (
            r"has (\d+) digits?, at least (\d+) are needed",
            r"a \1 chiffre(s) ; il en faut au moins \2",
        ),
        (r"has (\d+) digits, at most (\d+) are allowed", r"a \1 chiffres ; \2 au plus sont permis"),
        (r"has no known country code after its '\+'", "n'a pas d'indicatif pays connu après le +"),
        (r"is too short after its country code", "est trop court après l'indicatif pays"),
        (r"cannot be read as a phone number", "ne peut pas être lu comme un numéro"),
        (r"delivered", "envoyé"),
    )
)


def negotiate(accept_language: str | None, cookie: str | None) -> str:
    """The language to answer in: the "lang" cookie, else the browser's first supported one."""
    if cookie in LANGUAGES:
        return cookie
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, index, primary))
    return min(weighted)[2] if weighted else DEFAULT_LANGUAGE


def translator(lang: str) -> Translate:
    """t(key, **values): the message in `lang`, with the values put in."""
    catalog = CATALOGS[lang]

    def t(key: str, **values: object) -> str:
        text = catalog[key]
        return text.format(**values) if values else text

    return t


def localise(lang: str, message: str) -> tuple[str, str | None]:
    """A service's English message in `lang`, and "en" when it could not be translated."""
    if lang == "en":
        return message, None
    for pattern, french in _FRENCH_PATTERNS:
        if pattern.fullmatch(message):
            return pattern.sub(french, message), None
    return message, "en"


def sentence(message: str) -> str:
    """A service message as a sentence: capital first letter, final full stop."""
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?…" else message + "."


def format_datetime(moment: datetime | None, timezone: str, lang: str) -> str:
    """A UTC time as the account reads it: 25/11/2026 14:05 in French, 2026-11-25 14:05 else."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")
