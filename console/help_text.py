"""f1 on a ceremony step: what this kind of question wants and which keys work, for every prompt
kind (the definition's own ``help`` for the step comes first when it has one)."""

from __future__ import annotations

COMMON = """
**Everywhere in a ceremony:** `ctrl+a` aborts with a reason (recorded); `escape` goes back one
answer where nothing was done yet; a refused answer is asked again with the reason shown above
the question; `ctrl+l` shows or hides the log; `f1` this help."""

BY_KIND: dict[str, str] = {
    "checklist": "Read each item aloud and tick it once it is done: `enter` ticks and moves on, `space` "
                 "toggles, `tab` / `shift+tab` move. Then **All done: continue**. What is not ticked is named "
                 "under the items.",
    "confirm": "A yes / no question: `y` or `n`, or `←` `→` and `enter` on a button.",
    "choice": "Choose one of the options with `↑` `↓` and press `enter`; the default is highlighted first.",
    "text": "Type the answer and press `enter`. If it is refused, the reason is shown and the same question "
            "is asked again; correct it and press `enter`. In a practice home `ctrl+f` fills a practice value.",
    "typed-confirm": "A destructive step: type exactly the text shown (e.g. the key's label), then `enter`. "
                     "Anything else does nothing. `ctrl+a` aborts instead.",
    "path": "Type a file path and press `enter`. Output files must not exist yet (the console never "
            "overwrites); input files must exist. In a practice home `ctrl+f` suggests a new file.",
    "passphrase": "Type the passphrase; nobody else looks. A new passphrase is typed twice: `tab` or `enter` "
                  "moves to the second box, `shift+tab` back; `enter` in the second box checks both. A "
                  "problem is said under its box and goes as soon as you type there again.",
    "share-entry": "The custodian types their share from the card, word by word: four letters are enough, "
                   "`space` or `tab` takes the word. From the fourth word on the console says whose share it "
                   "is, or that it is a share of a retired or unknown set, or already entered. When all words "
                   "are in and one is wrong, the console names the word's number and puts the cursor on it: "
                   "retype just that word. Type a number and `space` to go to any word; `←` `→` (`↑` `↓` a "
                   "row) move while the box is empty; `backspace` on an empty box takes back the last word. "
                   "`escape` clears everything typed; `ctrl+t` shows the words to the typist. "
                   "`ctrl+r` drops every share entered so far; `ctrl+n` cancels the activation.",
    "share-ready": "Only the custodian named may be at the screen: everyone else looks away. Press the "
                   "button when they are ready; their share is shown next, once.",
    "share-reveal": "Write every word on the share card, in its numbered box. The first two words are the "
                    "same on every share of this set. Then **I have written it down**: the share disappears.",
    "share-verify": "Type the share back **from the card**, not from memory: the same keys as share entry. "
                    "The share cannot be shown again before a first attempt; if an attempt is refused because "
                    "the card itself is wrong, `ctrl+r` shows it once more to correct the card.",
    "witness": "The witness confirms the step went as read from the script, or records a deviation "
               "(`ctrl+d`): what was expected, what happened, what was done, who decided.",
    "attestation": "Read the statement. Agree or not (a 'do not agree' needs a comment), then unlock your "
                   "signing key with your passphrase and press `enter`. The head in the statement is the "
                   "ceremony seal: the one value everyone signs and reads aloud.",
    "review": "Check what the HSM is about to do, read it aloud; the administrator and the witness confirm. "
              "`escape` goes back to the answers with nothing done.",
}


def step_help(prompt) -> str:
    """The help shown by f1 for ``prompt``: step title, the definition's help, the kind's keys."""
    parts = [f"**{prompt.step_title}** (step {prompt.step_index} of {prompt.step_count})"]
    if prompt.help:
        parts.append(prompt.help)
    parts.append(BY_KIND.get(prompt.KIND, "Answer the question shown, then press `enter`."))
    return "\n\n".join(parts) + "\n" + COMMON
